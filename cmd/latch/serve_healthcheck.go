package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// cmdHealthcheck asks a running `latch serve` whether it is up: GET --url
// (default http://127.0.0.1:8080/healthz, liveness; /readyz for
// readiness) within --timeout (default 3s). It prints nothing and returns
// nil on 200, else an error naming the status or the failure (exit 1).
// It exists for container health checks: the image has no shell or curl
// (Dockerfile, docker-compose.yml).
func cmdHealthcheck(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "healthcheck [--url URL] [--timeout D]\n\nExits 0 when GET URL answers 200 (for container health checks).", stderr)
	target := fs.String("url", "http://127.0.0.1:8080/healthz", "the URL to check")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return usageError{fmt.Errorf("--url: %w", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", *target, resp.StatusCode)
	}
	return nil
}
