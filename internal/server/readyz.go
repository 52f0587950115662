package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultReadyTimeout bounds GET /readyz's dependency checks when
// Config.ReadyTimeout is zero.
const DefaultReadyTimeout = time.Second

// readiness is what GET /readyz answers from: whether shutdown has begun,
// and whether anything (a balancer's health check) has asked at all.
type readiness struct {
	shuttingDown atomic.Bool
	asked        atomic.Bool
}

// BeginShutdown makes GET /readyz answer 503 from now on, so that a load
// balancer health-checking it stops sending new requests here; every other
// route goes on answering as before. It returns whether /readyz has been
// asked since the Server was made: when it has not, no balancer is
// watching and waiting for one to notice (the shutdown drain) is pointless.
// Safe to call from any goroutine, more than once.
func (s *Server) BeginShutdown() (watched bool) {
	s.ready.shuttingDown.Store(true)
	return s.ready.asked.Load()
}

// readyz answers 200 "ready" when this instance should get traffic: the
// database and, when configured, Redis answer (Config.Health) within
// Config.ReadyTimeout (LATCH_READY_TIMEOUT); else 503 with Retry-After.
// From the moment shutdown begins (BeginShutdown) it answers 503
// "shutting down" without checking anything. It loads no session. Load
// balancers check it (deploy/haproxy.cfg); /healthz is liveness only.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.ready.asked.Store(true)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.ready.shuttingDown.Load() {
		w.Header().Set("Retry-After", retryAfterSeconds)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.readyTimeout)
	defer cancel()
	if err := s.health(ctx); err != nil {
		s.log.WarnContext(r.Context(), "readiness check failed", "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// healthz is liveness: it answers 200 "ok" whenever the process can serve
// HTTP at all, whatever the database and Redis do (those are /readyz's
// business: a liveness check that failed with Redis would get every
// instance restarted at once during a Redis outage, which fixes nothing).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}
