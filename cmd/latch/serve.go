package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serve runs the public HTTP server on ln until ctx ends (SIGTERM or
// SIGINT: main), then shuts down gracefully, in three steps, so that a
// load balancer health-checking /readyz loses no request (README
// "Production"):
//
//  1. readiness off: /readyz answers 503 at once (server.BeginShutdown);
//     every other route goes on serving, new requests included.
//  2. drain: for LATCH_SHUTDOWN_DRAIN (default 5s) the listener stays open
//     while the balancer's health check sees the 503 and takes this
//     instance out of rotation. Skipped when nothing has asked /readyz
//     since start (no balancer is watching).
//  3. shutdown: http.Server.Shutdown closes the listener and idle
//     connections and waits up to LATCH_SHUTDOWN_TIMEOUT (default 15s) for
//     in-flight requests to finish; what is still running then has its
//     connection closed.
//
// It returns nil after a clean shutdown (the process exits 0), the
// listener's error if serving fails, or the shutdown's error when
// in-flight requests outlived LATCH_SHUTDOWN_TIMEOUT.
func (a *app) serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           a.server.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}

	watched := a.server.BeginShutdown()
	drain := a.cfg.ShutdownDrain
	if !watched {
		drain = 0
	}
	msg := "shutting down: /readyz answers 503; still serving while the balancer notices"
	if drain == 0 {
		msg = "shutting down: /readyz answers 503; no drain (nothing has asked /readyz, or LATCH_SHUTDOWN_DRAIN=0)"
	}
	log.Info(msg, "drain", drain.String(), "readyz_checked", watched, "shutdown_timeout", a.cfg.ShutdownTimeout.String())
	if drain > 0 {
		timer := time.NewTimer(drain)
		select {
		case <-timer.C:
		case err := <-errc:
			timer.Stop()
			return err
		}
	}

	log.Info("shutting down: listener closed; waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return errors.Join(errors.New("requests still in flight after LATCH_SHUTDOWN_TIMEOUT were cut off"), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("shut down")
	return nil
}
