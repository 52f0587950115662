// Package metrics exposes Latch's Prometheus metrics (issue 9) on their own
// registry, served by cmd/latch on the separate LATCH_METRICS_ADDR
// listener, never on the public one. There is no package-level state and
// the global default registry is not used: New builds a registry from the
// sources it is given, read at scrape time.
//
// Names follow the Prometheus conventions (base units, _total for
// counters). `make bench` scrapes these exact names; keep them:
//
//	latch_db_statements_total            counter  SQL statements executed (store.Counters)
//	latch_db_connections_opened_total    counter  database connections opened
//	latch_db_open_connections            gauge    sql.DBStats.OpenConnections
//	latch_db_in_use_connections          gauge    sql.DBStats.InUse
//	latch_db_idle_connections            gauge    sql.DBStats.Idle
//	latch_db_max_open_connections        gauge    sql.DBStats.MaxOpenConnections
//	latch_db_wait_total                  counter  sql.DBStats.WaitCount
//	latch_db_wait_seconds_total          counter  sql.DBStats.WaitDuration
//	latch_redis_pool_active_connections  gauge    redigo PoolStats.ActiveCount (in use or idle)
//	latch_redis_pool_idle_connections    gauge    redigo PoolStats.IdleCount
//	latch_redis_pool_in_use_connections  gauge    ActiveCount - IdleCount (lent out now)
//	latch_password_hash_in_use           gauge    password hashes and verifications running now
//	latch_password_hash_queue_depth      gauge    callers waiting for a hashing slot now
//
// plus the Go runtime and process collectors (go_*, process_*), and the
// metrics a Recorder (recorder.go) updates as things happen: HTTP requests
// by route pattern and status, logins by outcome, sessions created and
// revoked by cause, hash wait time, Redis command errors and topology
// changes.
package metrics

import (
	"database/sql"
	"net/http"
	"net/http/pprof"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latch/latch/internal/store"
)

// DB is what the database metrics are read from (*store.DB).
type DB interface {
	Counters() store.Counters
	Stats() sql.DBStats
}

// RedisPool is what the Redis pool metrics are read from (*redis.Pool).
type RedisPool interface {
	Stats() redis.PoolStats
}

// HashQueue is what the password hashing gauges are read from
// (*password.Hasher).
type HashQueue interface {
	InUse() int
	Queued() int
}

// Sources are read at every scrape. DB is required; Redis may be nil (the
// embedded session store, or a Redis Cluster client, which has no single
// pool), and Hashes may be nil; their gauges are then absent. Recorder,
// when set, is registered too (its metrics are updated as things happen).
type Sources struct {
	DB       DB
	Redis    RedisPool
	Hashes   HashQueue
	Recorder *Recorder
}

// New returns a registry with Latch's collectors for src. Other parts of
// Latch register theirs on the same registry.
func New(src Sources) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&dbCollector{db: src.DB},
	)
	if src.Redis != nil {
		reg.MustRegister(&redisCollector{pool: src.Redis})
	}
	if src.Hashes != nil {
		reg.MustRegister(&hashCollector{q: src.Hashes})
	}
	if src.Recorder != nil {
		reg.MustRegister(src.Recorder)
	}
	return reg
}

// Handler serves reg in the Prometheus text (or OpenMetrics) format at
// GET /metrics (an error collecting one metric answers 500 rather than a
// partial page), and Go's runtime profiles (net/http/pprof) under
// /debug/pprof/, so that the "profile that shows it" for a slow page can be
// taken from a running instance: `go tool pprof
// http://LATCH_METRICS_ADDR/debug/pprof/profile?seconds=10`. Both are for
// operators only, which is why this listener is separate from the site's.
func Handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

var (
	dbStatements = prometheus.NewDesc("latch_db_statements_total",
		"SQL statements executed: queries, execs and each BEGIN, COMMIT and ROLLBACK.", nil, nil)
	dbOpened = prometheus.NewDesc("latch_db_connections_opened_total",
		"Database connections opened since start.", nil, nil)
	dbOpen = prometheus.NewDesc("latch_db_open_connections",
		"Database connections open now, in use or idle.", nil, nil)
	dbInUse = prometheus.NewDesc("latch_db_in_use_connections",
		"Database connections running a statement or transaction now.", nil, nil)
	dbIdle = prometheus.NewDesc("latch_db_idle_connections",
		"Database connections open and idle now.", nil, nil)
	dbMaxOpen = prometheus.NewDesc("latch_db_max_open_connections",
		"Most database connections the pool opens (LATCH_DATABASE_MAX_CONNS or the driver's default).", nil, nil)
	dbWaits = prometheus.NewDesc("latch_db_wait_total",
		"Times a request waited for a free database connection.", nil, nil)
	dbWaitSeconds = prometheus.NewDesc("latch_db_wait_seconds_total",
		"Total time requests waited for a free database connection, in seconds.", nil, nil)
	redisActive = prometheus.NewDesc("latch_redis_pool_active_connections",
		"Redis connections in the pool now, in use or idle (redigo's ActiveCount).", nil, nil)
	redisIdle = prometheus.NewDesc("latch_redis_pool_idle_connections",
		"Idle Redis connections in the pool now.", nil, nil)
	redisInUse = prometheus.NewDesc("latch_redis_pool_in_use_connections",
		"Redis connections lent out by the pool now (active minus idle).", nil, nil)
	hashInUse = prometheus.NewDesc("latch_password_hash_in_use",
		"Password hashes and verifications running now (at most the hashing slots).", nil, nil)
	hashQueued = prometheus.NewDesc("latch_password_hash_queue_depth",
		"Callers waiting for a password hashing slot now.", nil, nil)
)

// dbCollector reads the pool once per scrape.
type dbCollector struct{ db DB }

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbStatements, dbOpened, dbOpen, dbInUse, dbIdle, dbMaxOpen, dbWaits, dbWaitSeconds} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	n, s := c.db.Counters(), c.db.Stats()
	ch <- prometheus.MustNewConstMetric(dbStatements, prometheus.CounterValue, float64(n.Statements))
	ch <- prometheus.MustNewConstMetric(dbOpened, prometheus.CounterValue, float64(n.ConnectionsOpened))
	ch <- prometheus.MustNewConstMetric(dbOpen, prometheus.GaugeValue, float64(s.OpenConnections))
	ch <- prometheus.MustNewConstMetric(dbInUse, prometheus.GaugeValue, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(dbIdle, prometheus.GaugeValue, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(dbMaxOpen, prometheus.GaugeValue, float64(s.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(dbWaits, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(dbWaitSeconds, prometheus.CounterValue, s.WaitDuration.Seconds())
}

// redisCollector reads the Redis pool once per scrape.
type redisCollector struct{ pool RedisPool }

func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- redisActive
	ch <- redisIdle
	ch <- redisInUse
}

func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stats()
	ch <- prometheus.MustNewConstMetric(redisActive, prometheus.GaugeValue, float64(s.ActiveCount))
	ch <- prometheus.MustNewConstMetric(redisIdle, prometheus.GaugeValue, float64(s.IdleCount))
	ch <- prometheus.MustNewConstMetric(redisInUse, prometheus.GaugeValue, float64(max(s.ActiveCount-s.IdleCount, 0)))
}

// hashCollector reads the password hasher's slots once per scrape.
type hashCollector struct{ q HashQueue }

func (c *hashCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- hashInUse
	ch <- hashQueued
}

func (c *hashCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(hashInUse, prometheus.GaugeValue, float64(c.q.InUse()))
	ch <- prometheus.MustNewConstMetric(hashQueued, prometheus.GaugeValue, float64(c.q.Queued()))
}
