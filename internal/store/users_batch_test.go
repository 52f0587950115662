package store

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/user"
)

// TestUsersByIDs: one query returns every existing account among the IDs
// (repeats, 0 and unknown IDs ignored), equal to what UserByID returns, and
// costs one statement whatever the number of IDs.
func TestUsersByIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		var ids []int64
		for i := range 5 {
			u := mustCreate(t, db, &user.User{Email: fmt.Sprintf("u%d@example.com", i), Name: fmt.Sprint("U", i),
				PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"})
			ids = append(ids, u.ID)
		}
		before := db.Counters().Statements
		got, err := db.UsersByIDs(t.Context(), []int64{ids[0], 0, ids[3], ids[0], 999999, ids[4], -1})
		if err != nil {
			t.Fatal(err)
		}
		if n := db.Counters().Statements - before; n != 1 {
			t.Errorf("UsersByIDs ran %d statements, want 1", n)
		}
		if len(got) != 3 {
			t.Fatalf("got %d accounts, want 3: %v", len(got), got)
		}
		for _, id := range []int64{ids[0], ids[3], ids[4]} {
			want, err := db.UserByID(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got[id]); diff != "" {
				t.Errorf("account %d differs from UserByID (-want +got):\n%s", id, diff)
			}
		}

		if got, err := db.UsersByIDs(t.Context(), []int64{0}); err != nil || len(got) != 0 {
			t.Errorf("UsersByIDs(0) = %v, %v; want an empty map", got, err)
		}
		many := make([]int64, MaxUsersByIDs+1)
		for i := range many {
			many[i] = int64(i + 1)
		}
		if _, err := db.UsersByIDs(t.Context(), many); err == nil {
			t.Errorf("UsersByIDs with %d IDs succeeded, want an error", len(many))
		}
	})
}
