package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testRegistryCursor: walking the admin view with Query.After from the
// first page to the end, and back with Query.Before, visits every session
// exactly once, in the order of one big page, across runs of equal last
// seen times that straddle the pages and buckets crowded with one user's
// sessions; a cursor whose session has ended since still leads to every
// later session; the same holds for a filtered list.
func testRegistryCursor(t *testing.T, f registryFixture) {
	ctx := context.Background()
	base := time.Now().Truncate(time.Millisecond)
	const n, limit = 120, 7
	for i := range n {
		uid := int64(1 + i%40)
		if i%3 == 0 {
			uid = 7 // one bucket holds a third of the sessions
		}
		seen := base.Add(-time.Duration(i/5) * time.Second) // runs of 5 equal times
		if err := put(t, f.store, tok(fmt.Sprintf("cursor-%d", i), uid), newRecord(i, uid, "", seen), true); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := f.store.Sessions(ctx, Query{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	want := handles(whole.Records)
	if len(want) != n {
		t.Fatalf("one page lists %d sessions, want %d", len(want), n)
	}
	seenOnce := map[string]bool{}
	for i, r := range whole.Records {
		if seenOnce[r.Handle] {
			t.Fatalf("one page lists %s twice", r.Handle)
		}
		seenOnce[r.Handle] = true
		if i > 0 && r.LastSeen.After(whole.Records[i-1].LastSeen) {
			t.Fatalf("one page is not newest first at %d", i)
		}
	}

	// Forward: each page after the last record of the one before.
	var pages [][]Record
	var walked []string
	q := Query{Limit: limit}
	for len(pages) <= n {
		page, err := f.store.Sessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != n {
			t.Errorf("page %d: Total = %d, want %d", len(pages)+1, page.Total, n)
		}
		if len(page.Records) == 0 {
			break
		}
		pages = append(pages, page.Records)
		walked = append(walked, handles(page.Records)...)
		c := CursorOf(page.Records[len(page.Records)-1])
		q = Query{Limit: limit, After: &c}
	}
	if diff := cmp.Diff(want, walked); diff != "" {
		t.Fatalf("forward walk (-one page +walked):\n%s", diff)
	}

	// Back: each page before the first record of the one after it.
	for i := len(pages) - 1; i > 0; i-- {
		c := CursorOf(pages[i][0])
		page, err := f.store.Sessions(ctx, Query{Limit: limit, Before: &c})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(handles(pages[i-1]), handles(page.Records)); diff != "" {
			t.Fatalf("page %d before page %d (-forward +back):\n%s", i, i+1, diff)
		}
	}
	c := CursorOf(pages[0][0])
	if page, err := f.store.Sessions(ctx, Query{Limit: limit, Before: &c}); err != nil || len(page.Records) != 0 {
		t.Fatalf("before the first page: %v, %v; want none", handles(page.Records), err)
	}

	// A cursor whose session ended since: every later session still follows.
	mid := pages[3][len(pages[3])-1]
	if _, found, err := f.store.Revoke(ctx, mid.Handle); err != nil || !found {
		t.Fatalf("Revoke = %v, %v", found, err)
	}
	c = CursorOf(mid)
	page, err := f.store.Sessions(ctx, Query{Limit: 500, After: &c})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, h := range handles(page.Records) {
		if got[h] {
			t.Errorf("after an ended cursor: %s twice", h)
		}
		got[h] = true
	}
	for _, h := range want[4*limit:] {
		if !got[h] {
			t.Errorf("after an ended cursor: %s missing", h)
		}
	}
	if got[mid.Handle] {
		t.Error("after an ended cursor: the ended session is listed")
	}

	// A filtered list pages the same way.
	mine, err := f.store.Sessions(ctx, Query{UserID: 7, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	walked = nil
	q = Query{UserID: 7, Limit: limit}
	for range n {
		page, err := f.store.Sessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) == 0 {
			break
		}
		walked = append(walked, handles(page.Records)...)
		c := CursorOf(page.Records[len(page.Records)-1])
		q = Query{UserID: 7, Limit: limit, After: &c}
	}
	if len(mine.Records) < n/3 || len(walked) != len(mine.Records) {
		t.Errorf("one user's walk visited %d sessions, one page lists %d (want at least %d)", len(walked), len(mine.Records), n/3)
	}
	once := map[string]bool{}
	for _, h := range walked {
		if once[h] {
			t.Errorf("one user's walk: %s twice", h)
		}
		once[h] = true
	}
	for _, r := range mine.Records {
		if !once[r.Handle] {
			t.Errorf("one user's walk: %s missing", r.Handle)
		}
	}
}
