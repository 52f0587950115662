package store

import (
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
)

// BenchmarkAuditEvents reads the audit listings from a log of 1,000,000
// events over 100,000 users, where heavyUser has 10,000 events and
// lightUser about 10: the profile's activity and last sign-ins must cost
// about the same for both (issue 7: "within 10% of the same page with an
// empty history"), and the admin pages must not grow with the log.
// Seeding takes a while; run it with `go test -run '^$' -bench
// AuditEvents ./internal/store/`.
func BenchmarkAuditEvents(b *testing.B) {
	for _, o := range openers {
		b.Run(o.dialect, func(b *testing.B) {
			db := mustOpen(b, o.url(b))
			seedAuditEvents(b, db, 1_000_000, 100_000, 100)
			day := time.Unix(1700000000, 0).UTC()
			for _, c := range []struct {
				name string
				f    audit.Filter
			}{
				{"profile activity/10k-event user", audit.Filter{UserID: heavyUser, Limit: 10, NoTotal: true}},
				{"profile activity/10-event user", audit.Filter{UserID: lightUser, Limit: 10, NoTotal: true}},
				{"last failed sign-in/10k-event user", audit.Filter{UserID: heavyUser, Type: audit.LoginFailed, Limit: 1, NoTotal: true}},
				{"last failed sign-in/10-event user", audit.Filter{UserID: lightUser, Type: audit.LoginFailed, Limit: 1, NoTotal: true}},
				{"admin audit/first page", audit.Filter{Limit: 50, CountLimit: 1000}},
				{"admin audit/page 20", audit.Filter{Offset: 950, Limit: 50, CountLimit: 1000}},
				{"admin audit/by type", audit.Filter{Type: audit.RoleChanged, Limit: 50, CountLimit: 1000}},
				{"admin audit/by user", audit.Filter{UserID: heavyUser, Limit: 50, CountLimit: 1000}},
				{"admin audit/by dates", audit.Filter{Since: day.Add(24 * time.Hour), Until: day.Add(48 * time.Hour), Limit: 50, CountLimit: 1000}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						if _, _, err := db.AuditEvents(b.Context(), c.f); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkUsersPage reads the admin account list from 100,000 accounts:
// the first page and page 20 (each with its exact count), and a search.
func BenchmarkUsersPage(b *testing.B) {
	for _, o := range openers {
		b.Run(o.dialect, func(b *testing.B) {
			db := mustOpen(b, o.url(b))
			cols := "'user' || i || '@example.com', 'user' || i || '@example.com', 'User', '$argon2id$x', 'user', "
			query := "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
				"INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at) SELECT " + cols + "0, 1700000000 FROM n"
			if db.Dialect() == DialectPostgres {
				query = "INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at) SELECT " + cols +
					"false, now() FROM generate_series(1, $1) AS i"
			}
			if _, err := db.db.ExecContext(b.Context(), query, 100_000); err != nil {
				b.Fatal(err)
			}
			if _, err := db.db.ExecContext(b.Context(), "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			for _, c := range []struct {
				name   string
				q      string
				offset int
			}{{"first page", "", 0}, {"page 20", "", 950}, {"search", "user4242", 0}} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						if _, _, err := db.Users(b.Context(), c.q, c.offset, 50); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
