package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table. Pointer fields are nil when not measured
// (printed "n/a", JSON null).
type row struct {
	Server   string `json:"server"`
	Scenario string `json:"scenario"`

	Requests  uint64   `json:"requests"`
	ReqPerSec float64  `json:"req_per_sec"`
	P50ms     *float64 `json:"p50_ms"`
	P99ms     *float64 `json:"p99_ms"`
	Errors    uint64   `json:"errors"`
	Status5xx uint64   `json:"status_5xx"`
	// Codes counts answers by HTTP status ("0": no answer, e.g. a timeout).
	Codes map[string]uint64 `json:"status_codes,omitempty"`

	// Redis is per request: commands from INFO commandstats (Lua-internal
	// ones included) when RedisKind is "cmds", client round trips from
	// MONITOR when it is "trips".
	Redis     *float64         `json:"redis_per_req"`
	RedisKind string           `json:"redis_kind,omitempty"`
	RedisMix  map[string]int64 `json:"redis_commands,omitempty"`

	SQLPerReq *float64 `json:"sql_statements_per_req"`
	DBConns   *float64 `json:"db_connections_opened"`
	PoolSize  *float64 `json:"db_pool_size,omitempty"`

	RSSMiB  *float64 `json:"rss_mib"`  // largest VmRSS seen at the end of a round
	PeakMiB *float64 `json:"peak_mib"` // VmHWM at the end of the row

	Ratio   *float64 `json:"ratio"`              // to RatioTo, same run
	RatioTo string   `json:"ratio_to,omitempty"` // e.g. "reference"

	Targets []target `json:"targets,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// target is one goal a row is judged by; Met is nil when the number it
// needs was not measured.
type target struct {
	Goal string `json:"goal"`
	Met  *bool  `json:"met"`
}

func ptr[T any](v T) *T { return &v }

// check returns a target whose Met is ok(v), or nil when v is nil.
func check(goal string, v *float64, ok func(float64) bool) target {
	if v == nil {
		return target{Goal: goal}
	}
	return target{Goal: goal, Met: ptr(ok(*v))}
}

// machine describes where and when the run happened.
type machine struct {
	Date  string `json:"date"`
	NProc int    `json:"nproc"`
	CPU   string `json:"cpu"`
	Go    string `json:"go"`
	Mode  string `json:"mode"`
	Sizes sizes  `json:"sizes"`
	Conns int    `json:"connections"`
	Round string `json:"round"`
	Notes string `json:"notes"`
}

func thisMachine(mode string, sz sizes, conns int, round time.Duration, rounds int) machine {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return machine{
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), NProc: runtime.NumCPU(), CPU: cpu, Go: runtime.Version(),
		Mode: mode, Sizes: sz, Conns: conns, Round: fmt.Sprintf("%d × %v interleaved", rounds, round),
	}
}

func fmtF(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

// printTable writes the machine line and the table, one row per line.
func printTable(w io.Writer, m machine, rows []row) {
	fmt.Fprintf(w, "\nLatch bench — %s — %d CPUs (%s) — %s — %s mode: %d users, %d events, %d sessions; %d connections, %s\n",
		m.Date, m.NProc, m.CPU, m.Go, m.Mode, m.Sizes.Users, m.Sizes.Events, m.Sizes.Sessions, m.Conns, m.Round)
	if m.Notes != "" {
		fmt.Fprintln(w, m.Notes)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tscenario\treq/s\tp50 ms\tp99 ms\terrors\tRedis/req\tSQL/req\tDB conns\tRSS MiB\tratio\ttarget\tmet?\t")
	for _, r := range rows {
		redis := fmtF(r.Redis, "%.2f")
		if r.Redis != nil && r.RedisKind == "trips" {
			redis += " rt"
		}
		conns := fmtF(r.DBConns, "%.0f")
		if r.PoolSize != nil {
			conns += fmt.Sprintf(" (pool %.0f)", *r.PoolSize)
		}
		rss := fmtF(r.RSSMiB, "%.0f")
		if r.PeakMiB != nil {
			rss += fmt.Sprintf(" (peak %.0f)", *r.PeakMiB)
		}
		ratio := fmtF(r.Ratio, "%.2f×")
		var goals, mets []string
		for _, t := range r.Targets {
			goals = append(goals, t.Goal)
			switch {
			case t.Met == nil:
				mets = append(mets, "n/a")
			case *t.Met:
				mets = append(mets, "yes")
			default:
				mets = append(mets, "NO")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Server, r.Scenario, r.ReqPerSec, fmtF(r.P50ms, "%.1f"), fmtF(r.P99ms, "%.1f"), r.Errors,
			redis, fmtF(r.SQLPerReq, "%.2f"), conns, rss, ratio, strings.Join(goals, "; "), strings.Join(mets, "; "))
	}
	tw.Flush()
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s / %s: %s\n", r.Server, r.Scenario, r.Note)
		}
	}
}

// writeJSON writes {machine, rows} to dir/bench-<time>.json and returns the path.
func writeJSON(dir string, m machine, rows []row) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write json: %w", err)
	}
	path := filepath.Join(dir, "bench-"+time.Now().UTC().Format("20060102-150405")+".json")
	b, err := json.MarshalIndent(struct {
		Machine machine `json:"machine"`
		Rows    []row   `json:"rows"`
	}{m, rows}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("write json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write json: %w", err)
	}
	return path, nil
}
