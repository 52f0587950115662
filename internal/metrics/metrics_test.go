package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/metrics"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store"
)

// names are the metrics `make bench` scrapes: they must stay.
var names = []string{
	"latch_db_statements_total", "latch_db_connections_opened_total", "latch_db_open_connections",
	"latch_db_in_use_connections", "latch_db_idle_connections", "latch_db_max_open_connections",
	"latch_db_wait_total", "latch_db_wait_seconds_total",
	"latch_redis_pool_active_connections", "latch_redis_pool_idle_connections",
	"latch_redis_pool_in_use_connections", "latch_password_hash_in_use", "latch_password_hash_queue_depth",
}

// scrape returns every unlabelled sample of the handler's /metrics.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z_]+) (\S+)$`).FindAllSubmatch(body, -1) {
		v, err := strconv.ParseFloat(string(m[2]), 64)
		if err != nil {
			t.Fatal(err)
		}
		out[string(m[1])] = v
	}
	return out
}

// TestRegistryExportsEveryName: with a real SQLite pool and a real Redis
// pool, every name is exported, the counters follow the store's, and the
// Redis gauges follow the pool.
func TestRegistryExportsEveryName(t *testing.T) {
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "latch.db"), store.WithMaxConns(3))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	pool := sessiontest.RedisPool(t)
	conn := pool.Get()
	if _, err := redis.DoContext(conn, t.Context(), "PING"); err != nil {
		t.Fatal(err)
	}
	h := metrics.Handler(metrics.New(metrics.Sources{DB: db, Redis: pool,
		Hashes: password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1}, 1, 0)}))

	got := scrape(t, h)
	for _, name := range names {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if got["latch_db_max_open_connections"] != 3 {
		t.Errorf("latch_db_max_open_connections = %v, want 3 (WithMaxConns)", got["latch_db_max_open_connections"])
	}
	if got["latch_redis_pool_in_use_connections"] != 1 {
		t.Errorf("latch_redis_pool_in_use_connections = %v with one connection taken, want 1",
			got["latch_redis_pool_in_use_connections"])
	}
	if got["latch_redis_pool_active_connections"] != 1 {
		t.Errorf("latch_redis_pool_active_connections = %v with one connection taken, want 1",
			got["latch_redis_pool_active_connections"])
	}
	conn.Close()
	if got := scrape(t, h); got["latch_redis_pool_idle_connections"] != 1 || got["latch_redis_pool_in_use_connections"] != 0 {
		t.Errorf("latch_redis_pool_idle_connections = %v, in use %v after the connection came back, want 1 and 0",
			got["latch_redis_pool_idle_connections"], got["latch_redis_pool_in_use_connections"])
	}

	before := got["latch_db_statements_total"]
	if _, err := db.UserByID(t.Context(), 1); err == nil {
		t.Fatal("found user 1 in an empty database")
	}
	if after := scrape(t, h)["latch_db_statements_total"]; after != before+1 {
		t.Errorf("latch_db_statements_total %v → %v after one query, want +1", before, after)
	}
}

// TestRegistryWithoutRedis: the embedded session store has no Redis pool,
// and no Redis gauges are exported.
func TestRegistryWithoutRedis(t *testing.T) {
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := scrape(t, metrics.Handler(metrics.New(metrics.Sources{DB: db})))
	if _, ok := got["latch_redis_pool_idle_connections"]; ok {
		t.Error("Redis gauges exported without a Redis pool")
	}
	if _, ok := got["latch_db_statements_total"]; !ok {
		t.Error("latch_db_statements_total missing")
	}
}
