package store

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/user"
)

// mustInsertEvent stores e and fails the test on error.
func mustInsertEvent(t *testing.T, db *DB, e audit.Event) audit.Event {
	t.Helper()
	if err := db.InsertAuditEvent(t.Context(), &e); err != nil {
		t.Fatalf("InsertAuditEvent(%+v): %v", e, err)
	}
	return e
}

// mustAuditEvents lists events and fails the test on error.
func mustAuditEvents(t *testing.T, db *DB, f audit.Filter) ([]audit.Event, int) {
	t.Helper()
	events, total, err := db.AuditEvents(t.Context(), f)
	if err != nil {
		t.Fatalf("AuditEvents(%+v): %v", f, err)
	}
	if events == nil {
		t.Fatalf("AuditEvents(%+v) returned a nil slice, want non-nil", f)
	}
	return events, total
}

// eventIDs returns the IDs of events, in order.
func eventIDs(events []audit.Event) []int64 {
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func TestAuditEvents(t *testing.T) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"insert and read back", func(t *testing.T, db *DB) {
			db.now = func() time.Time { return fixedNow }
			e := mustInsertEvent(t, db, audit.Event{
				Type: audit.RoleChanged, Via: audit.ViaAdmin, ActorID: 7, SubjectID: 9,
				Email: "Ada@Example.com", IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11) Zoë 🦊",
				SessionHandle: "AbCdEfGhIjKlMnOpQrStUv", Detail: "role user → admin",
			})
			want := audit.Event{
				ID:   e.ID,
				Time: time.Date(2025, 3, 14, 14, 9, 26, 0, time.UTC),
				Type: audit.RoleChanged, Via: audit.ViaAdmin, ActorID: 7, SubjectID: 9,
				Email: "Ada@Example.com", IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11) Zoë 🦊",
				SessionHandle: "AbCdEfGhIjKlMnOpQrStUv", Detail: "role user → admin",
			}
			if e.ID <= 0 {
				t.Errorf("InsertAuditEvent set ID %d, want > 0", e.ID)
			}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("InsertAuditEvent result (-want +got):\n%s", diff)
			}
			got, total := mustAuditEvents(t, db, audit.Filter{})
			if diff := cmp.Diff([]audit.Event{want}, got); diff != "" || total != 1 {
				t.Errorf("AuditEvents total %d (want 1), events (-want +got):\n%s", total, diff)
			}
		}},
		{"given time is kept in UTC seconds", func(t *testing.T, db *DB) {
			given := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("X", -5*3600))
			e := mustInsertEvent(t, db, audit.Event{Type: audit.Logout, Time: given})
			want := time.Date(2024, 3, 1, 4, 59, 59, 0, time.UTC)
			got, _ := mustAuditEvents(t, db, audit.Filter{})
			if !e.Time.Equal(want) || e.Time.Location() != time.UTC || len(got) != 1 || !got[0].Time.Equal(want) || got[0].Time.Location() != time.UTC {
				t.Errorf("Time after insert %v, read back %v; want %v in UTC", e.Time, got, want)
			}
		}},
		{"zero actor and subject are NULL", func(t *testing.T, db *DB) {
			e := mustInsertEvent(t, db, audit.Event{Type: audit.LoginFailed, Email: "nobody@example.com"})
			var nulls int
			if err := db.SQL().QueryRowContext(t.Context(), db.rebind(
				"SELECT count(*) FROM audit_events WHERE id = ? AND actor_id IS NULL AND subject_id IS NULL"), e.ID).Scan(&nulls); err != nil {
				t.Fatal(err)
			}
			if nulls != 1 {
				t.Errorf("actor_id/subject_id of 0 not stored as NULL")
			}
			got, _ := mustAuditEvents(t, db, audit.Filter{})
			if len(got) != 1 || got[0].ActorID != 0 || got[0].SubjectID != 0 {
				t.Errorf("read back %+v, want actor and subject 0", got)
			}
		}},
		{"text is cut on character boundaries and made valid UTF-8", func(t *testing.T, db *DB) {
			// "é" is 2 bytes: 254 is reached exactly after 127 of them,
			// so add one ASCII byte first to make the cut fall inside one.
			longEmail := "x" + strings.Repeat("é", 200) + "@example.com"
			longUA := "Mozilla/5 " + strings.Repeat("🦊", 200) // 4-byte runes: 512 falls inside the 126th
			e := mustInsertEvent(t, db, audit.Event{
				Type: audit.LoginFailed, Email: longEmail, UserAgent: longUA,
				IP: "10.0.0.1\x00", Detail: "bad \xff\xfe bytes", SessionHandle: "h\xc3",
			})
			wantEmail := "x" + strings.Repeat("é", 126) // 253 bytes; one more "é" would be 255
			wantUA := "Mozilla/5 " + strings.Repeat("🦊", 125)
			want := audit.Event{
				ID: e.ID, Time: e.Time, Type: audit.LoginFailed,
				Email: wantEmail, UserAgent: wantUA,
				IP: "10.0.0.1\uFFFD", Detail: "bad \uFFFD bytes", SessionHandle: "h\uFFFD",
			}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("InsertAuditEvent result (-want +got):\n%s", diff)
			}
			got, _ := mustAuditEvents(t, db, audit.Filter{})
			if diff := cmp.Diff([]audit.Event{want}, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			for _, s := range []string{got[0].Email, got[0].UserAgent} {
				if !utf8.ValidString(s) {
					t.Errorf("stored %q is not valid UTF-8", s)
				}
			}
			if len(got[0].Email) > audit.MaxEmailBytes || len(got[0].UserAgent) > audit.MaxUserAgentBytes {
				t.Errorf("stored lengths %d, %d exceed %d, %d", len(got[0].Email), len(got[0].UserAgent), audit.MaxEmailBytes, audit.MaxUserAgentBytes)
			}
		}},
		{"exact limits are kept", func(t *testing.T, db *DB) {
			email := strings.Repeat("a", audit.MaxEmailBytes)
			ua := strings.Repeat("b", audit.MaxUserAgentBytes)
			e := mustInsertEvent(t, db, audit.Event{Type: audit.LoginFailed, Email: email, UserAgent: ua})
			if e.Email != email || e.UserAgent != ua {
				t.Errorf("values at the limit were changed: %d, %d bytes", len(e.Email), len(e.UserAgent))
			}
		}},
		{"invalid events are rejected", func(t *testing.T, db *DB) {
			for _, e := range []audit.Event{
				{},
				{Type: "login.maybe"},
				{Type: audit.Logout, ActorID: -1},
				{Type: audit.Logout, SubjectID: -2},
			} {
				if err := db.InsertAuditEvent(t.Context(), &e); err == nil {
					t.Errorf("InsertAuditEvent(%+v) succeeded, want an error", e)
				}
			}
			if _, total := mustAuditEvents(t, db, audit.Filter{}); total != 0 {
				t.Errorf("%d events stored, want 0", total)
			}
		}},
		{"every type is accepted", func(t *testing.T, db *DB) {
			for _, typ := range audit.Types {
				mustInsertEvent(t, db, audit.Event{Type: typ})
			}
			for _, typ := range audit.Types {
				got, total := mustAuditEvents(t, db, audit.Filter{Type: typ})
				if total != 1 || len(got) != 1 || got[0].Type != typ {
					t.Errorf("Filter{Type: %q}: total %d, %+v; want the one event", typ, total, got)
				}
			}
		}},
		{"newest first, ties by ID", func(t *testing.T, db *DB) {
			a := mustInsertEvent(t, db, audit.Event{Type: audit.Logout, Time: base.Add(2 * time.Second)})
			b := mustInsertEvent(t, db, audit.Event{Type: audit.Logout, Time: base})
			c := mustInsertEvent(t, db, audit.Event{Type: audit.Logout, Time: base.Add(2*time.Second + 300*time.Millisecond)})
			d := mustInsertEvent(t, db, audit.Event{Type: audit.Logout, Time: base.Add(time.Second)})
			got, total := mustAuditEvents(t, db, audit.Filter{})
			if diff := cmp.Diff([]int64{c.ID, a.ID, d.ID, b.ID}, eventIDs(got)); diff != "" || total != 4 {
				t.Errorf("total %d (want 4), order (-want +got):\n%s", total, diff)
			}
		}},
		{"filters", func(t *testing.T, db *DB) {
			at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
			e1 := mustInsertEvent(t, db, audit.Event{Type: audit.LoginSucceeded, SubjectID: 1, Time: at(0)})
			e2 := mustInsertEvent(t, db, audit.Event{Type: audit.RoleChanged, Via: audit.ViaAdmin, ActorID: 1, SubjectID: 2, Time: at(10)})
			e3 := mustInsertEvent(t, db, audit.Event{Type: audit.LoginSucceeded, SubjectID: 2, Time: at(20)})
			e4 := mustInsertEvent(t, db, audit.Event{Type: audit.LoginFailed, Email: "x@example.com", Time: at(30)})
			e5 := mustInsertEvent(t, db, audit.Event{Type: audit.AccountDisabled, Via: audit.ViaCLI, SubjectID: 3, Time: at(40)})
			for _, tt := range []struct {
				name string
				f    audit.Filter
				want []int64
			}{
				{"none", audit.Filter{}, []int64{e5.ID, e4.ID, e3.ID, e2.ID, e1.ID}},
				{"user as subject or actor", audit.Filter{UserID: 1}, []int64{e2.ID, e1.ID}},
				{"user as subject", audit.Filter{UserID: 2}, []int64{e3.ID, e2.ID}},
				{"unknown user", audit.Filter{UserID: 99}, []int64{}},
				{"type", audit.Filter{Type: audit.LoginSucceeded}, []int64{e3.ID, e1.ID}},
				{"type and user", audit.Filter{Type: audit.LoginSucceeded, UserID: 2}, []int64{e3.ID}},
				{"since is inclusive", audit.Filter{Since: at(20)}, []int64{e5.ID, e4.ID, e3.ID}},
				{"until is exclusive", audit.Filter{Until: at(20)}, []int64{e2.ID, e1.ID}},
				{"since and until", audit.Filter{Since: at(10), Until: at(40)}, []int64{e4.ID, e3.ID, e2.ID}},
				{"fractional since rounds up", audit.Filter{Since: at(10).Add(time.Millisecond)}, []int64{e5.ID, e4.ID, e3.ID}},
				{"fractional until rounds up", audit.Filter{Until: at(20).Add(time.Millisecond)}, []int64{e3.ID, e2.ID, e1.ID}},
				{"since in another zone", audit.Filter{Since: at(30).In(time.FixedZone("X", 7*3600))}, []int64{e5.ID, e4.ID}},
				{"everything", audit.Filter{UserID: 2, Type: audit.RoleChanged, Since: at(0), Until: at(11)}, []int64{e2.ID}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					got, total := mustAuditEvents(t, db, tt.f)
					if diff := cmp.Diff(tt.want, eventIDs(got)); diff != "" {
						t.Errorf("AuditEvents(%+v) IDs (-want +got):\n%s", tt.f, diff)
					}
					if total != len(tt.want) {
						t.Errorf("AuditEvents(%+v) total = %d, want %d", tt.f, total, len(tt.want))
					}
				})
			}
		}},
		{"pages", func(t *testing.T, db *DB) {
			var ids []int64 // newest first
			for i := range 7 {
				e := mustInsertEvent(t, db, audit.Event{Type: audit.Logout, SubjectID: 5, Time: base.Add(time.Duration(i) * time.Minute)})
				ids = append([]int64{e.ID}, ids...)
			}
			mustInsertEvent(t, db, audit.Event{Type: audit.Logout, SubjectID: 6, Time: base})
			for _, tt := range []struct {
				name          string
				offset, limit int
				want          []int64
			}{
				{"first page", 0, 3, ids[0:3]},
				{"second page", 3, 3, ids[3:6]},
				{"last page", 6, 3, ids[6:7]},
				{"past the end", 10, 3, []int64{}},
				{"negative offset", -4, 2, ids[0:2]},
				{"default limit", 0, 0, ids},
				{"negative limit is the default", 1, -1, ids[1:]},
			} {
				t.Run(tt.name, func(t *testing.T) {
					got, total := mustAuditEvents(t, db, audit.Filter{UserID: 5, Offset: tt.offset, Limit: tt.limit})
					if diff := cmp.Diff(tt.want, eventIDs(got)); diff != "" {
						t.Errorf("IDs (-want +got):\n%s", diff)
					}
					if total != 7 {
						t.Errorf("total = %d, want 7", total)
					}
				})
			}
		}},
		{"default 50, cap 500", func(t *testing.T, db *DB) {
			const n = 501
			tx, err := db.SQL().BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if _, err := tx.ExecContext(t.Context(), db.rebind("INSERT INTO audit_events (time, type) VALUES (?, ?)"),
					db.timeArg(base.Add(time.Duration(i)*time.Second)), string(audit.Logout)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct{ limit, want int }{{0, 50}, {1, 1}, {500, 500}, {501, 500}, {1 << 30, 500}} {
				got, total := mustAuditEvents(t, db, audit.Filter{Limit: tt.limit})
				if len(got) != tt.want || total != n {
					t.Errorf("Limit %d: %d events, total %d; want %d, %d", tt.limit, len(got), total, tt.want, n)
				}
			}
		}},
		{"history outlives the user", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "gone@example.com", Name: "G", PasswordHash: "h"})
			e := mustInsertEvent(t, db, audit.Event{Type: audit.UserCreated, Via: audit.ViaCLI, SubjectID: u.ID, Email: u.Email})
			if _, err := db.SQL().ExecContext(t.Context(), db.rebind("DELETE FROM users WHERE id = ?"), u.ID); err != nil {
				t.Fatalf("delete user with audit events: %v", err)
			}
			got, _ := mustAuditEvents(t, db, audit.Filter{UserID: u.ID})
			if diff := cmp.Diff([]int64{e.ID}, eventIDs(got)); diff != "" || got[0].SubjectID != u.ID {
				t.Errorf("events of deleted user (-want +got):\n%s", diff)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, tt.run)
		})
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"unchanged", "abc", -1, "abc"},
		{"short enough", "abc", 3, "abc"},
		{"cut ascii", "abcdef", 4, "abcd"},
		{"cut before a 2-byte rune", "aé", 2, "a"},
		{"cut after a 2-byte rune", "aéb", 3, "aé"},
		{"cut inside a 4-byte rune", "🦊🦊", 6, "🦊"},
		{"zero", "abc", 0, ""},
		{"invalid byte", "a\xffb", -1, "a\uFFFDb"},
		{"run of invalid bytes is one replacement", "a\xff\xfe\xfdb", -1, "a\uFFFDb"},
		{"truncated rune at the end", "ab\xc3", -1, "ab\uFFFD"},
		{"NUL", "a\x00b", -1, "a\uFFFDb"},
		{"replacement then cut", "\xff\xff", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cleanText(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if !utf8.ValidString(got) || (tt.max >= 0 && len(got) > tt.max) {
				t.Errorf("cleanText(%q, %d) = %q: invalid or too long", tt.in, tt.max, got)
			}
		})
	}
}

func TestPageBounds(t *testing.T) {
	tests := []struct {
		name                      string
		offset, limit             int
		wantOffset, wantLimitRows int
	}{
		{"defaults", 0, 0, 0, 50},
		{"negative", -1, -1, 0, 50},
		{"given", 20, 10, 20, 10},
		{"cap", 0, 501, 0, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, l := pageBounds(tt.offset, tt.limit)
			if o != tt.wantOffset || l != tt.wantLimitRows {
				t.Errorf("pageBounds(%d, %d) = %d, %d; want %d, %d", tt.offset, tt.limit, o, l, tt.wantOffset, tt.wantLimitRows)
			}
		})
	}
}

// TestAuditEventsTotal: the total is counted only when it cannot be
// derived from the page, and not at all with NoTotal.
func TestAuditEventsTotal(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		for i := range 5 {
			mustInsertEvent(t, db, audit.Event{Type: audit.Logout, SubjectID: 9, Time: resetNow.Add(time.Duration(i) * time.Second)})
		}
		cases := []struct {
			offset, limit int
			noTotal       bool
			rows, total   int
		}{
			{0, 2, false, 2, 5}, // full page: counted
			{4, 2, false, 1, 5}, // short last page: derived
			{0, 10, false, 5, 5},
			{9, 2, false, 0, 5}, // past the end: counted
			{0, 2, true, 2, -1},
		}
		for _, c := range cases {
			events, total := mustAuditEvents(t, db, audit.Filter{UserID: 9, Offset: c.offset, Limit: c.limit, NoTotal: c.noTotal})
			if len(events) != c.rows || total != c.total {
				t.Errorf("offset %d limit %d noTotal %v: %d rows, total %d; want %d, %d",
					c.offset, c.limit, c.noTotal, len(events), total, c.rows, c.total)
			}
		}
	})
}
