package redistest_test

import (
	"strconv"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redistest"
)

func TestServerRestartKeepsPortAndLosesData(t *testing.T) {
	p := redistest.StartServer(t)
	if _, err := p.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if _, err := p.Do("PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	p.Start()
	v, err := redis.String(p.Do("GET", "k"))
	if err != redis.ErrNil {
		t.Fatalf("GET after a restart without persistence = %q, %v; want nil", v, err)
	}
}

func TestSentinelSeesItsMaster(t *testing.T) {
	m := redistest.StartServer(t)
	s := redistest.StartSentinel(t, "mymaster", m.Addr(), 1)
	addr, err := redis.Strings(s.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"))
	if err != nil {
		t.Fatal(err)
	}
	if len(addr) != 2 || addr[1] != strconv.Itoa(m.Port) {
		t.Fatalf("sentinel master = %v, want port %d", addr, m.Port)
	}
}
