package session

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/session/sessiontest"
)

// TestRedisSessionsPagesMergeBuckets: the admin view's pages, merged from
// the buckets' last-seen indexes, are exactly the newest-first order of
// all sessions, including buckets that hold many of the newest (users
// with many sessions) and equal last-seen times.
func TestRedisSessionsPagesMergeBuckets(t *testing.T) {
	st := NewRedisStore(sessiontest.RedisPool(t), sessiontest.Prefix(t), 5*time.Second)
	ctx := context.Background()
	base := time.Now().Truncate(time.Millisecond)
	type stored struct {
		handle string
		th     string
		seen   time.Time
	}
	var all []stored
	for i := range 400 {
		uid := int64(1 + i%150) // users 1..50 get 3 sessions each: several per bucket
		if i%4 == 0 {
			uid = 7 // and user 7 many of the newest
		}
		seen := base.Add(-time.Duration(i/3) * time.Second) // runs of equal times
		r := newRecord(i, uid, "", seen)
		token := tok(fmt.Sprintf("page-%d", i), uid)
		if err := put(t, st, token, r, true); err != nil {
			t.Fatal(err)
		}
		all = append(all, stored{r.Handle, HashToken(token), r.LastSeen})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].seen.Equal(all[j].seen) {
			return all[i].seen.After(all[j].seen)
		}
		return all[i].th > all[j].th
	})
	for _, q := range []Query{{Limit: 50}, {Offset: 50, Limit: 50}, {Offset: 130, Limit: 70}, {Offset: 390, Limit: 50}, {Limit: 500}} {
		page, err := st.Sessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != len(all) {
			t.Errorf("%+v: Total = %d, want %d", q, page.Total, len(all))
		}
		var want []string
		for _, s := range all[min(q.Offset, len(all)):min(q.Offset+q.Limit, len(all))] {
			want = append(want, s.handle)
		}
		if diff := cmp.Diff(want, handles(page.Records)); diff != "" {
			t.Errorf("%+v: page (-want +got):\n%s", q, diff)
		}
	}
}

// TestRedisSessionsCursorTies: cursor pages of the Redis admin view cut
// through runs of equal last-seen times longer than a page, within one
// bucket and across buckets (five users' buckets hold every session),
// and still list each session once in (last seen, token hash) descending
// order, forward with After and back with Before.
func TestRedisSessionsCursorTies(t *testing.T) {
	st := NewRedisStore(sessiontest.RedisPool(t), sessiontest.Prefix(t), 5*time.Second)
	ctx := context.Background()
	base := time.Now().Truncate(time.Millisecond)
	type stored struct {
		handle, th string
		seen       time.Time
	}
	var all []stored
	for i := range 300 {
		uid := int64(1 + i%5)
		seen := base // 250 sessions at one time
		if i%6 == 5 {
			seen = base.Add(-time.Duration(i%4) * time.Millisecond) // and a few runs just older
		}
		r := newRecord(i, uid, "", seen)
		token := tok(fmt.Sprintf("ties-%d", i), uid)
		if err := put(t, st, token, r, true); err != nil {
			t.Fatal(err)
		}
		all = append(all, stored{r.Handle, HashToken(token), r.LastSeen})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].seen.Equal(all[j].seen) {
			return all[i].seen.After(all[j].seen)
		}
		return all[i].th > all[j].th
	})
	var want []string
	for _, s := range all {
		want = append(want, s.handle)
	}
	for _, limit := range []int{1, 11, 50} {
		var pages [][]Record
		var walked []string
		q := Query{Limit: limit}
		for len(pages) <= len(all) {
			page, err := st.Sessions(ctx, q)
			if err != nil {
				t.Fatal(err)
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
			t.Fatalf("limit %d: forward walk (-want +got):\n%s", limit, diff)
		}
		for i := len(pages) - 1; i > 0; i-- {
			c := CursorOf(pages[i][0])
			page, err := st.Sessions(ctx, Query{Limit: limit, Before: &c})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(handles(pages[i-1]), handles(page.Records)); diff != "" {
				t.Fatalf("limit %d: page %d back (-forward +back):\n%s", limit, i, diff)
			}
		}
	}
}

// TestRedisSessionsCursorWorkBounded: the index entries a page of the
// Redis admin view reads from the buckets, counted, do not grow with the
// depth of its cursor (at most one per bucket plus a few pages' worth),
// where the same page by offset reads more entries than its offset.
func TestRedisSessionsCursorWorkBounded(t *testing.T) {
	st := NewRedisStore(sessiontest.RedisPool(t), sessiontest.Prefix(t), 5*time.Second)
	ctx := context.Background()
	base := time.Now().Truncate(time.Millisecond)
	const n, depth, limit = 6000, 2500, 50
	for i := range n {
		uid := int64(1 + i%3000)
		r := newRecord(i, uid, "", base.Add(-time.Duration(i/2)*time.Millisecond)) // pairs of equal times
		if err := put(t, st, tok(fmt.Sprintf("work-%d", i), uid), r, true); err != nil {
			t.Fatal(err)
		}
	}
	entries := func(heads map[int][]pageEntry) int {
		sum := 0
		for _, h := range heads {
			sum += len(h)
		}
		return sum
	}
	prev, err := st.Sessions(ctx, Query{Offset: depth - limit, Limit: limit})
	if err != nil || len(prev.Records) != limit {
		t.Fatal(len(prev.Records), err)
	}
	c := CursorOf(prev.Records[limit-1])
	sk, err := st.seekOf(ctx, Query{After: &c})
	if err != nil {
		t.Fatal(err)
	}
	heads, _, err := st.lastSeenHeads(ctx, limit, sk)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page %d deep from a cursor: %d index entries read", depth, entries(heads))
	if got, bound := entries(heads), RedisBuckets+4*limit; got > bound {
		t.Errorf("page %d deep from a cursor read %d index entries, want at most %d", depth, got, bound)
	}
	heads, _, err = st.lastSeenHeads(ctx, depth+limit, seek{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page %d deep by offset: %d index entries read", depth, entries(heads))
	if got := entries(heads); got < depth {
		t.Errorf("page %d deep by offset read %d index entries, want at least %d (the test's baseline)", depth, got, depth)
	}
	byCursor, err := st.Sessions(ctx, Query{Limit: limit, After: &c})
	if err != nil {
		t.Fatal(err)
	}
	byOffset, err := st.Sessions(ctx, Query{Offset: depth, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(handles(byOffset.Records), handles(byCursor.Records)); diff != "" {
		t.Errorf("page from the cursor (-by offset +by cursor):\n%s", diff)
	}
}
