// Package redistest starts real redis-server and redis-sentinel processes
// for tests, each on a free loopback port with a directory of its own, and
// stops them when the test ends. It is the one place tests start Redis
// processes (throwaway servers, Sentinel rigs, cluster rigs).
//
// A missing binary skips the test, except under CI (CI set), where it
// fails: these tests must run there. The binaries are REDIS_SERVER_BIN and
// REDIS_SENTINEL_BIN when set (scripts/test-env.sh exports both), else
// redis-server and redis-sentinel on PATH.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// StartTimeout bounds how long Start waits for a process to answer PING.
const StartTimeout = 15 * time.Second

// Process is one redis-server or redis-sentinel on 127.0.0.1:Port.
type Process struct {
	t    testing.TB
	bin  string
	args []string // without --port
	Port int
	Dir  string // its working directory (config, dump, append-only file)
	cmd  *exec.Cmd
}

// Addr returns "127.0.0.1:port".
func (p *Process) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// URL returns "redis://127.0.0.1:port/0".
func (p *Process) URL() string { return "redis://" + p.Addr() + "/0" }

// binary returns the path of env's binary (or name on PATH), skipping the
// test (failing it under CI) when it is not installed.
func binary(t testing.TB, env, name string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		bin = name
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartServer starts a redis-server with no persistence (--save "",
// --appendonly no) plus args, which may override those (later arguments
// win), and waits until it answers PING.
func StartServer(t testing.TB, args ...string) *Process {
	t.Helper()
	bin := binary(t, "REDIS_SERVER_BIN", "redis-server")
	dir := t.TempDir()
	base := []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no"}
	p := &Process{t: t, bin: bin, args: append(base, args...), Port: FreePort(t), Dir: dir}
	p.Start()
	t.Cleanup(p.cleanup)
	return p
}

// StartSentinel starts a redis-sentinel that monitors master (host:port)
// under name with the given quorum, with down-after and failover timeouts
// short enough for tests (1 s and 5 s), plus extra config lines.
func StartSentinel(t testing.TB, name, master string, quorum int, extra ...string) *Process {
	t.Helper()
	bin := binary(t, "REDIS_SENTINEL_BIN", "redis-sentinel")
	host, port, err := net.SplitHostPort(master)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lines := append([]string{
		"bind 127.0.0.1",
		"protected-mode no",
		"dir " + dir,
		fmt.Sprintf("sentinel monitor %s %s %s %d", name, host, port, quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s 1000", name),
		fmt.Sprintf("sentinel failover-timeout %s 5000", name),
		fmt.Sprintf("sentinel parallel-syncs %s 1", name),
	}, extra...)
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Process{t: t, bin: bin, args: []string{conf}, Port: FreePort(t), Dir: dir}
	p.Start()
	t.Cleanup(p.cleanup)
	return p
}

// Start (re)starts the process on its port and waits until it answers
// PING. The test fails if it does not within StartTimeout.
func (p *Process) Start() {
	p.t.Helper()
	args := append([]string{}, p.args...)
	args = append(args, "--port", strconv.Itoa(p.Port))
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Dir = p.Dir
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(StartTimeout)
	for {
		c, err := redis.Dial("tcp", p.Addr(), redis.DialConnectTimeout(200*time.Millisecond),
			redis.DialReadTimeout(time.Second))
		if err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s on port %d did not start: %v", filepath.Base(p.bin), p.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the process to end (kill -9: no
// shutdown, nothing flushed).
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Stop sends SIGTERM and waits for a clean shutdown.
func (p *Process) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Pause freezes the process (SIGSTOP): connections are accepted by the
// kernel, nothing is answered. Resume undoes it.
func (p *Process) Pause() { p.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() { p.signal(syscall.SIGCONT) }

func (p *Process) signal(sig syscall.Signal) {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Do runs one command on a new connection to the process (1 s timeouts)
// and returns its reply; the test fails on a connection error, not on a
// Redis error reply (returned as err).
func (p *Process) Do(cmd string, args ...any) (any, error) {
	p.t.Helper()
	c, err := redis.Dial("tcp", p.Addr(), redis.DialConnectTimeout(time.Second),
		redis.DialReadTimeout(time.Second), redis.DialWriteTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Do(cmd, args...)
}

func (p *Process) cleanup() { p.Kill() }

// Calls returns how many times the process has run command (lower case,
// e.g. "wait"), from INFO commandstats; 0 when it has run none.
func (p *Process) Calls(command string) int {
	p.t.Helper()
	info, err := redis.String(p.Do("INFO", "commandstats"))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+command+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}
