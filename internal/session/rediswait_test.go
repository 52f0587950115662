package session

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redistest"
)

// TestRevocationsWaitForAReplica: on a master with a replica every
// revocation (logout's delete, revoke by handle, revoke of a user's
// sessions) is followed by one WAIT; one that ended nothing sends none;
// with the replica frozen each revocation fails with an error that is
// ErrNotReplicated, ErrUnavailable and of kind fail.Unavailable.
func TestRevocationsWaitForAReplica(t *testing.T) {
	m := redistest.StartServer(t, "--repl-diskless-sync-delay", "0")
	r := redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(m.Port))
	deadline := time.Now().Add(redistest.RigTimeout)
	for {
		info, _ := redis.String(m.Do("INFO", "replication"))
		if strings.Contains(info, "state=online") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not online:\n%s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pool := redisconn.NewPool(m.Addr(), time.Second)
	t.Cleanup(func() { pool.Close() })
	st := NewRedisStore(pool, "latch:", 200*time.Millisecond) // WAIT waits MinReplicaWait
	now := time.Now()
	tokens := make([]string, 6)
	for i := range tokens {
		user := int64(1 + i/3)
		tokens[i] = placed("token-"+strconv.Itoa(i), user)
		if err := put(t, st, tokens[i], newRecord(i, user, "192.0.2.1", now), true); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	_, found, err := st.Revoke(ctx, newRecord(0, 1, "", now).Handle)
	if err != nil || !found {
		t.Fatalf("Revoke: found %v, %v", found, err)
	}
	if _, err := st.RevokeUser(ctx, 2, ""); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	if err := st.DeleteCtx(ctx, tokens[1]); err != nil {
		t.Fatalf("DeleteCtx: %v", err)
	}
	if n := m.Calls("wait"); n != 3 {
		t.Errorf("%d WAIT commands after three revocations, want 3", n)
	}
	if _, found, err := st.Revoke(ctx, "handle-none-xxxxxxxxxxx"); err != nil || found {
		t.Fatalf("Revoke of no session: found %v, %v", found, err)
	}
	if n := m.Calls("wait"); n != 3 {
		t.Errorf("%d WAIT commands after a revocation that ended nothing, want still 3", n)
	}

	r.Pause()
	defer r.Resume()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNotReplicated) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, fail.Unavailable) {
			t.Errorf("%s with the replica frozen: %v; want ErrNotReplicated, ErrUnavailable, fail.Unavailable", what, err)
		}
	}
	_, found, err = st.Revoke(ctx, newRecord(2, 1, "", now).Handle)
	check("Revoke", err)
	if found {
		t.Error("Revoke with the replica frozen reports the session found (done)")
	}
	token6 := placed("token-6", 1)
	if err := put(t, st, token6, newRecord(6, 1, "192.0.2.1", now), true); err != nil {
		t.Fatalf("a login (no revocation) with the replica frozen: %v", err)
	}
	_, err = st.RevokeUser(ctx, 1, "")
	check("RevokeUser", err)
	// The master ran those scripts: a logout now ends nothing, so it
	// waits for nothing and succeeds.
	if err := st.DeleteCtx(ctx, token6); err != nil {
		t.Errorf("DeleteCtx of a session already ended on the master: %v, want nil", err)
	}
}

// TestRevocationsRequireAReplica: a store that requires a replica
// (RequireReplica, Sentinel mode) on a master with no replica connected
// fails every revocation (revoke by handle, revoke of a user's sessions,
// logout's delete) and the account-state hold with ErrNotReplicated (kind
// fail.Unavailable), sending no WAIT; the same store without the
// requirement ends sessions there as before.
func TestRevocationsRequireAReplica(t *testing.T) {
	m := redistest.StartServer(t)
	pool := redisconn.NewPool(m.Addr(), time.Second)
	t.Cleanup(func() { pool.Close() })
	st := NewRedisStore(pool, "latch:", 200*time.Millisecond).RequireReplica(true)
	now := time.Now()
	tokens := make([]string, 3)
	for i := range tokens {
		tokens[i] = placed("token-"+strconv.Itoa(i), int64(1+i))
		if err := put(t, st, tokens[i], newRecord(i, int64(1+i), "192.0.2.1", now), true); err != nil {
			t.Fatalf("a login (no revocation) without replicas: %v", err)
		}
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNotReplicated) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, fail.Unavailable) {
			t.Errorf("%s requiring a replica, none connected: %v; want ErrNotReplicated, ErrUnavailable, fail.Unavailable", what, err)
		}
	}
	ctx := t.Context()
	_, found, err := st.Revoke(ctx, newRecord(0, 1, "", now).Handle)
	check("Revoke", err)
	if found {
		t.Error("Revoke requiring a replica, none connected, reports the session found (done)")
	}
	_, err = st.RevokeUser(ctx, 2, "")
	check("RevokeUser", err)
	check("DeleteCtx", st.DeleteCtx(ctx, tokens[2]))
	check("HoldUserState", st.HoldUserState(ctx, 3))
	if n := m.Calls("wait"); n != 0 {
		t.Errorf("%d WAIT commands sent to a master without replicas, want 0", n)
	}

	plain := NewRedisStore(pool, "latch:", 200*time.Millisecond)
	token := placed("token-plain", 4)
	if err := put(t, plain, token, newRecord(4, 4, "192.0.2.1", now), true); err != nil {
		t.Fatal(err)
	}
	if err := plain.DeleteCtx(ctx, token); err != nil {
		t.Errorf("DeleteCtx on one Redis without replicas, not required: %v, want nil", err)
	}
	if err := plain.HoldUserState(ctx, 4); err != nil {
		t.Errorf("HoldUserState on one Redis without replicas, not required: %v, want nil", err)
	}
}
