package redistest

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// ClusterTimeout bounds how long StartCluster waits for cluster_state:ok
// and Failover waits for a promotion.
const ClusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of redis-server processes on loopback ports.
type Cluster struct {
	t testing.TB
	// Nodes are every process, masters first as created (Nodes[i] for
	// i < masters), then the replicas; roles change with failovers.
	Nodes   []*Process
	masters int
}

// StartCluster starts masters × (1 + replicasPer) redis-servers with
// cluster mode on (--cluster-enabled yes, node timeout 1 s), joins them
// with `redis-cli --cluster create --cluster-replicas replicasPer` (the
// 16384 slots split evenly over the masters) and waits until every node
// reports cluster_state:ok and knows all masters. The cluster bus of a
// node listens on its port + 10000.
func StartCluster(t testing.TB, masters, replicasPer int) *Cluster {
	t.Helper()
	cli := binary(t, "REDIS_CLI_BIN", "redis-cli")
	c := &Cluster{t: t, masters: masters}
	args := []string{"--cluster", "create"}
	for range masters * (1 + replicasPer) {
		p := startClusterNode(t)
		c.Nodes = append(c.Nodes, p)
		args = append(args, p.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPer), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	return c
}

// startClusterNode starts one cluster-enabled redis-server whose port and
// port + 10000 (its cluster bus) were free.
func startClusterNode(t testing.TB) *Process {
	t.Helper()
	bin := binary(t, "REDIS_SERVER_BIN", "redis-server")
	dir := t.TempDir()
	for {
		port := FreePort(t)
		if port+10000 > 65535 {
			continue
		}
		bus, err := netListen(port + 10000)
		if err != nil {
			continue
		}
		bus.Close()
		base := []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
			"--repl-diskless-sync-delay", "0"}
		p := &Process{t: t, bin: bin, args: base, Port: port, Dir: dir}
		p.Start()
		t.Cleanup(p.cleanup)
		return p
	}
}

// Addrs returns every node's "127.0.0.1:port".
func (c *Cluster) Addrs() []string {
	var out []string
	for _, p := range c.Nodes {
		out = append(out, p.Addr())
	}
	return out
}

// Role returns "master" or "slave" as the node itself reports it.
func Role(p *Process) string {
	v, err := redis.Values(p.Do("ROLE"))
	if err != nil || len(v) == 0 {
		return ""
	}
	role, _ := redis.String(v[0], nil)
	return role
}

// Masters returns the running nodes that report the master role.
func (c *Cluster) Masters() []*Process {
	var out []*Process
	for _, p := range c.Nodes {
		if p.cmd != nil && Role(p) == "master" {
			out = append(out, p)
		}
	}
	return out
}

// ReplicaOf returns a running replica of master (by its node id).
func (c *Cluster) ReplicaOf(master *Process) *Process {
	c.t.Helper()
	for _, p := range c.Nodes {
		if p == master || p.cmd == nil {
			continue
		}
		info, _ := redis.String(p.Do("INFO", "replication"))
		if Role(p) == "slave" && strings.Contains(info, "master_port:"+strconv.Itoa(master.Port)) {
			return p
		}
	}
	c.t.Fatalf("no replica of %s", master.Addr())
	return nil
}

// WaitOK waits until every running node reports cluster_state:ok and
// sees the expected number of masters, and every running replica's link
// to its master is up (a replica that never synced cannot be promoted),
// polling (at most ClusterTimeout).
func (c *Cluster) WaitOK() {
	c.t.Helper()
	deadline := time.Now().Add(ClusterTimeout)
	for {
		ok := true
		for _, p := range c.Nodes {
			if p.cmd == nil {
				continue
			}
			info, err := redis.String(p.Do("CLUSTER", "INFO"))
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_size:"+strconv.Itoa(c.masters)) {
				ok = false
				break
			}
			if repl, _ := redis.String(p.Do("INFO", "replication")); strings.Contains(repl, "role:slave") &&
				!strings.Contains(repl, "master_link_status:up") && c.masterRunning(repl) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not ok after %v", ClusterTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func netListen(port int) (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
}

// Running reports whether the process was started and not killed or
// stopped since.
func (p *Process) Running() bool { return p.cmd != nil }

// ID returns the node's cluster node ID (CLUSTER MYID).
func ID(t testing.TB, p *Process) string {
	t.Helper()
	id, err := redis.String(p.Do("CLUSTER", "MYID"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// OwnerOf returns the running master that serves slot, from CLUSTER
// NODES as that master itself reports it.
func (c *Cluster) OwnerOf(slot int) *Process {
	c.t.Helper()
	for _, p := range c.Masters() {
		nodes, err := redis.String(p.Do("CLUSTER", "NODES"))
		if err != nil {
			c.t.Fatal(err)
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "myself") || !strings.Contains(f[2], "master") {
				continue
			}
			for _, r := range f[8:] {
				lo, hi, found := strings.Cut(r, "-")
				if !found {
					hi = lo
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 == nil && err2 == nil && a <= slot && slot <= b {
					return p
				}
			}
		}
	}
	c.t.Fatalf("no master serves slot %d", slot)
	return nil
}

// masterRunning reports whether the master named in a replica's INFO
// replication is one of the running nodes (a replica of a killed master
// waits for its promotion, not for its link).
func (c *Cluster) masterRunning(repl string) bool {
	for _, p := range c.Nodes {
		if p.Running() && strings.Contains(repl, "master_port:"+strconv.Itoa(p.Port)+"\r") {
			return true
		}
	}
	return false
}
