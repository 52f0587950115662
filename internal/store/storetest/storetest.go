// Package storetest gives tests in any package a private PostgreSQL schema
// to run against, so tests (and parallel `go test` runs) never see each
// other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// DefaultPostgresURL is used when LATCH_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL creates a fresh schema named latch_test_<16 hex digits> in the
// database at $LATCH_TEST_DATABASE_URL (default DefaultPostgresURL) and
// returns that URL with search_path set to the schema, so everything a test
// creates through it, goose's version table included, lands there. The
// schema is dropped (CASCADE) in t.Cleanup.
//
// When the server cannot be reached within 5 seconds the test is skipped,
// unless the environment variable CI is non-empty: CI must never skip, so
// there it fails instead.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("LATCH_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		// Do not print base: it may contain a password.
		t.Fatalf("storetest: LATCH_TEST_DATABASE_URL is not a URL: %v", redact(err))
	}

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("storetest: open postgres: %v", err)
	}
	t.Cleanup(func() { admin.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("storetest: PostgreSQL at %s unreachable and CI is set, so not skipping: %v", u.Redacted(), err)
		}
		t.Skipf("storetest: PostgreSQL at %s unreachable (set LATCH_TEST_DATABASE_URL): %v", u.Redacted(), err)
	}

	b := make([]byte, 8)
	rand.Read(b) // never returns an error (Go 1.24+)
	schema := "latch_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// redact strips the URL (which may hold a password) from a url.Parse error.
func redact(err error) error {
	if uerr, ok := err.(*url.Error); ok {
		return uerr.Err
	}
	return err
}
