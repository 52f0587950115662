package redistest

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// RigTimeout bounds each wait of a SentinelRig: for the replicas to sync,
// for the Sentinels to find each other, for a failover to finish.
const RigTimeout = 60 * time.Second

// SentinelRig is a Redis high-availability set on loopback ports: one
// master, two replicas (--replicaof) and three Sentinels monitoring the
// master under Name with quorum 2 (StartSentinel's 1 s down-after and 5 s
// failover timeout). The servers sync replicas without delay
// (repl-diskless-sync-delay 0). Servers holds the master and the replicas as started
// (Servers[0] is the first master); which one is master now is
// Master().
type SentinelRig struct {
	t         testing.TB
	Name      string
	Servers   []*Process
	Sentinels []*Process
}

// StartSentinelRig starts the rig and returns once both replicas are in
// sync with the master and every Sentinel knows the two replicas and the
// two other Sentinels (so a failover can be authorised). The test fails
// if that takes longer than RigTimeout.
func StartSentinelRig(t testing.TB, name string) *SentinelRig {
	t.Helper()
	// No diskless-sync delay: a replica (re)syncs at once, in tests as
	// after a failover (Redis waits 5 s by default for more replicas).
	fast := []string{"--repl-diskless-sync-delay", "0"}
	master := StartServer(t, fast...)
	r := &SentinelRig{t: t, Name: name, Servers: []*Process{master}}
	for range 2 {
		r.Servers = append(r.Servers, StartServer(t, append(fast, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))...))
	}
	r.poll("both replicas in sync", func() bool {
		return r.inSync(master, 2)
	})
	for range 3 {
		r.Sentinels = append(r.Sentinels, StartSentinel(t, name, master.Addr(), 2))
	}
	r.WaitSentinelsAgree(master.Addr())
	return r
}

// SentinelAddrs returns the Sentinels' addresses.
func (r *SentinelRig) SentinelAddrs() []string {
	out := make([]string, len(r.Sentinels))
	for i, s := range r.Sentinels {
		out[i] = s.Addr()
	}
	return out
}

// Master returns the server the first Sentinel names as master now, or
// nil if it names none of the rig's servers (or cannot be asked).
func (r *SentinelRig) Master() *Process {
	return r.byAddr(r.masterAddr(r.Sentinels[0]))
}

// Replicas returns the servers other than Master().
func (r *SentinelRig) Replicas() []*Process {
	m := r.Master()
	var out []*Process
	for _, p := range r.Servers {
		if p != m {
			out = append(out, p)
		}
	}
	return out
}

// Failover asks a Sentinel for a failover (SENTINEL FAILOVER: no
// agreement needed, the master need not be down); it returns at once.
func (r *SentinelRig) Failover() {
	r.t.Helper()
	if _, err := r.Sentinels[0].Do("SENTINEL", "FAILOVER", r.Name); err != nil {
		r.t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
}

// Promoted reports whether the failover away from old is over, as a
// client can see it: every Sentinel names the same master other than old,
// and that server answers ROLE with "master".
func (r *SentinelRig) Promoted(old string) bool {
	addr := r.masterAddr(r.Sentinels[0])
	if addr == "" || addr == old {
		return false
	}
	for _, s := range r.Sentinels[1:] {
		if r.masterAddr(s) != addr {
			return false
		}
	}
	p := r.byAddr(addr)
	if p == nil {
		return false
	}
	role, err := redis.Values(p.Do("ROLE"))
	if err != nil || len(role) == 0 {
		return false
	}
	kind, _ := redis.String(role[0], nil)
	return kind == "master"
}

// WaitSentinelsAgree waits until every Sentinel names master and sees its
// replicas that are up, unflagged, and the two other Sentinels.
func (r *SentinelRig) WaitSentinelsAgree(master string) {
	r.t.Helper()
	r.poll("sentinels agree on "+master, func() bool {
		for _, s := range r.Sentinels {
			if r.masterAddr(s) != master {
				return false
			}
			info, err := redis.StringMap(s.Do("SENTINEL", "MASTER", r.Name))
			if err != nil || info["num-other-sentinels"] != "2" || info["flags"] != "master" {
				return false
			}
			reps, err := redis.Values(s.Do("SENTINEL", "REPLICAS", r.Name))
			if err != nil {
				return false
			}
			up := 0
			for _, rep := range reps {
				m, _ := redis.StringMap(rep, nil)
				if m["flags"] == "slave" && m["master-link-status"] == "ok" {
					up++
				}
			}
			if up < len(r.Servers)-1-r.down() {
				return false
			}
		}
		return true
	})
}

// down counts the rig's servers that are not running.
func (r *SentinelRig) down() int {
	n := 0
	for _, p := range r.Servers {
		if p.cmd == nil {
			n++
		}
	}
	return n
}

func (r *SentinelRig) masterAddr(s *Process) string {
	hp, err := redis.Strings(s.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", r.Name))
	if err != nil || len(hp) != 2 {
		return ""
	}
	return net.JoinHostPort(hp[0], hp[1])
}

func (r *SentinelRig) byAddr(addr string) *Process {
	for _, p := range r.Servers {
		if p.Addr() == addr {
			return p
		}
	}
	return nil
}

// inSync reports whether master has n connected replicas, each online
// and at the master's replication offset.
func (r *SentinelRig) inSync(master *Process, n int) bool {
	info, err := redis.String(master.Do("INFO", "replication"))
	if err != nil {
		return false
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	if fields["connected_slaves"] != strconv.Itoa(n) {
		return false
	}
	for i := range n {
		if !strings.Contains(fields["slave"+strconv.Itoa(i)], "state=online") {
			return false
		}
	}
	return true
}

// poll calls ok every 50 ms until it returns true; the test fails after
// RigTimeout.
func (r *SentinelRig) poll(what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(RigTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("redistest: sentinel rig: %s: not within %v", what, RigTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
