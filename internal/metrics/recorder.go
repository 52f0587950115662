package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch/latch/internal/redisconn"
)

// Recorder holds the metrics that Latch updates as things happen (the
// others are read from their sources at scrape time: New). Create it with
// NewRecorder; it is safe for concurrent use. Its methods are what
// internal/server's Metrics interface, the password hasher's wait
// observer and the Redis topology watchers call:
//
//	latch_http_requests_total{route,method,status}       counter    requests answered (Request)
//	latch_http_request_duration_seconds{route,method}    histogram  time to answer them (Request)
//	latch_logins_total{outcome}                          counter    POST /login by outcome (Login)
//	latch_sessions_created_total                         counter    sessions created by a sign-in (SessionCreated)
//	latch_sessions_revoked_total{cause}                  counter    sessions revoked, by cause (SessionsRevoked)
//	latch_password_hash_wait_seconds                     histogram  wait for a hashing slot (HashWait)
//	latch_redis_command_errors_total{kind}               counter    Redis commands that failed (RedisCommandError)
//	latch_redis_topology_changes_total{kind}             counter    Sentinel/cluster topology changes seen (RedisTopologyChange)
//
// Label values are bounded by their callers: route is a chi route pattern
// (or "unmatched"), never a raw path; method is one of the methods the
// routes serve (others are "other"); outcome, cause and kind come from
// fixed lists.
type Recorder struct {
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	logins    *prometheus.CounterVec
	created   prometheus.Counter
	revoked   *prometheus.CounterVec
	hashWait  prometheus.Histogram
	redisErrs *prometheus.CounterVec
	topology  *prometheus.CounterVec
}

// NewRecorder creates the Recorder's metrics, at zero. Register it on a
// registry by passing it to New (Sources.Recorder); it is a
// prometheus.Collector of all of them.
func NewRecorder() *Recorder {
	r := &Recorder{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_http_requests_total",
			Help: "HTTP requests answered, by chi route pattern (\"unmatched\" for 404s and 405s), method and status code.",
		}, []string{"route", "method", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "latch_http_request_duration_seconds",
			Help: "Time from the request reaching the router to its handler returning, in seconds, by route pattern and method.",
			// A login costs one password hash (tens to hundreds of ms); a
			// page that waits for a slow Redis gives up after LATCH_REDIS_TIMEOUT.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_logins_total",
			Help: "Login attempts (POST /login) by outcome: success, bad_credentials, throttled, unavailable, invalid (a field left empty), error.",
		}, []string{"outcome"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latch_sessions_created_total",
			Help: "Sessions created by a sign-in (login or password reset link).",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_sessions_revoked_total",
			Help: "Sessions revoked by this instance, by cause (logout, user, admin, disabled, password_change, password_reset, limit, stale).",
		}, []string{"cause"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "latch_password_hash_wait_seconds",
			Help:    "Time a password hash or verification waited for a hashing slot, in seconds (about 0 when one was free).",
			Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		redisErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_redis_command_errors_total",
			Help: "Redis commands that failed, by kind: connection (dial, timeout, reset, closed) or reply (an error reply from Redis, such as READONLY or MOVED).",
		}, []string{"kind"}),
		topology: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_redis_topology_changes_total",
			Help: "Redis topology changes Latch noticed, by kind: master_changed (Sentinel named another master), slots_refreshed (the cluster's slot map changed).",
		}, []string{"kind"}),
	}
	// Zero series for the fixed label values, so that rate() and alerts
	// see a counter from the start instead of one that appears on its
	// first increment.
	for _, o := range []string{"success", "bad_credentials", "throttled", "unavailable"} {
		r.logins.WithLabelValues(o)
	}
	for _, k := range []string{RedisErrorConnection, RedisErrorReply} {
		r.redisErrs.WithLabelValues(k)
	}
	return r
}

func (r *Recorder) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.requests, r.durations, r.logins, r.created, r.revoked, r.hashWait, r.redisErrs, r.topology}
}

// Describe sends the descriptions of every metric of r
// (prometheus.Collector).
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range r.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the current value of every metric of r
// (prometheus.Collector).
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	for _, c := range r.collectors() {
		c.Collect(ch)
	}
}

var _ prometheus.Collector = (*Recorder)(nil)

// knownMethods are the methods that get their own label value; the routes
// serve GET, HEAD and POST, and anything else is "other" (bounded even
// when a client invents methods).
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true}

// Request counts one answered request: route is its chi route pattern
// ("unmatched" when none matched), method the request method, status the
// response status code, d how long it took.
func (r *Recorder) Request(route, method string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "other"
	}
	r.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	r.durations.WithLabelValues(route, method).Observe(d.Seconds())
}

// Login counts one login attempt with its outcome (server.Login*).
func (r *Recorder) Login(outcome string) { r.logins.WithLabelValues(outcome).Inc() }

// SessionCreated counts one session created by a sign-in.
func (r *Recorder) SessionCreated() { r.created.Inc() }

// SessionsRevoked counts n sessions revoked for cause (server.Revoke*);
// n <= 0 counts nothing, but makes the cause's series appear.
func (r *Recorder) SessionsRevoked(cause string, n int) {
	c := r.revoked.WithLabelValues(cause)
	if n > 0 {
		c.Add(float64(n))
	}
}

// HashWait observes how long one caller waited for a password hashing
// slot (password.Hasher.ObserveWaits).
func (r *Recorder) HashWait(waited time.Duration) { r.hashWait.Observe(waited.Seconds()) }

// Kinds of Redis command errors (the kind label of
// latch_redis_command_errors_total).
const (
	RedisErrorConnection = "connection" // the command got no reply: dial, timeout, reset, closed connection
	RedisErrorReply      = "reply"      // Redis answered with an error reply
)

// RedisCommandError counts one failed Redis command of kind
// (RedisErrorConnection or RedisErrorReply). CountRedisErrors calls it.
func (r *Recorder) RedisCommandError(kind string) { r.redisErrs.WithLabelValues(kind).Inc() }

// Kinds of Redis topology changes (the kind label of
// latch_redis_topology_changes_total), as redisconn names them.
const (
	TopologyMasterChanged  = redisconn.TopologyMasterChanged  // Sentinel mode: the master address Latch writes to changed (a failover)
	TopologySlotsRefreshed = redisconn.TopologySlotsRefreshed // Cluster mode: the slot map was reloaded after a MOVED or a failover
)

// RedisTopologyChange counts one topology change of kind
// (TopologyMasterChanged, TopologySlotsRefreshed): r is the
// redisconn.TopologyObserver that the Sentinel and Cluster connection code
// is given. It is safe to call from any goroutine.
func (r *Recorder) RedisTopologyChange(kind string) { r.topology.WithLabelValues(kind).Inc() }

var _ redisconn.TopologyObserver = (*Recorder)(nil)
