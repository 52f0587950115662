package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/user"
)

// The account state copy (see internal/store/userstate.go for the protocol
// and why it has a hold). RedisStore keeps, per account,
//
//	P{b}:us:<user id>  hash (b: the user's bucket, rediskeys.go):
//	                v (users.state_version), ep (credential epoch, unix
//	                s), ro role, di disabled (0/1), em email, na name, cr
//	                created (unix s), nda newest new-device sign-in (unix ms,
//	                0 = none), ndl its label, ndh its session handle, tz the
//	                chosen time zone (users.time_zone), hold
//	                (changes in flight); expires UserStateTTL after its last
//	                write, or userStateHoldTTL after a hold
//
// and reads it in the same script as the session (FindCtx), so a signed-in
// request costs one Redis command and no SQL. A copy with hold > 0, or
// without v, is reported as missing: the server then reads SQL.

// UserStateTTL is how long a copy lives after its last write. It bounds
// how long any copy left stale by a failure nobody could see (for example
// a Redis write lost in a failover, or an UPDATE made by hand that did not
// move users.state_version) can be served: a populate that finds the same
// version does not restart it. Every change of an account also rewrites
// its copy.
const UserStateTTL = time.Hour

// userStateHoldTTL is how long a held copy lives when the change that held
// it never writes it (the process died, Redis could not be reached): then
// the whole copy expires and readers populate it from SQL. It is longer
// than a change's SQL part may take (the store bounds each operation), so
// a populate that read SQL before the change cannot land after it.
const userStateHoldTTL = 30 * time.Second

// userStateFields are the hash fields of a copy, in the order the scripts
// take and return them.
const userStateFields = `'v', 'ep', 'ro', 'di', 'em', 'na', 'cr', 'nda', 'ndl', 'ndh', 'tz'`

// luaUserState is shared by the scripts that write copies. put writes the
// copy f (11 fields in userStateFields order) into key k: mode 'change'
// drops one hold first and always may write; mode 'populate' is refused
// while the copy is held. Either way an existing copy whose version is not
// lower than f[1] is kept. Returns 1 when written.
const luaUserState = `
local function us_put(k, f, mode, ttl)
  local hold = tonumber(redis.call('HGET', k, 'hold') or '0')
  if mode == 'change' then
    hold = hold - 1
    if hold < 0 then hold = 0 end
  elseif hold > 0 then
    return 0
  end
  local cur = tonumber(redis.call('HGET', k, 'v') or '-1')
  local wrote = 0
  if cur < tonumber(f[1]) then
    redis.call('HSET', k, 'v', f[1], 'ep', f[2], 'ro', f[3], 'di', f[4], 'em', f[5], 'na', f[6],
      'cr', f[7], 'nda', f[8], 'ndl', f[9], 'ndh', f[10], 'tz', f[11] or '')
    wrote = 1
  end
  if hold > 0 then
    redis.call('HSET', k, 'hold', hold)
  else
    redis.call('HDEL', k, 'hold')
    -- The lifetime restarts only with a write, or when a change's hold
    -- ends (the hold had shortened it): a populate that finds the same
    -- version (every sign-in) must not keep an old copy alive.
    if redis.call('HEXISTS', k, 'v') == 0 then redis.call('DEL', k)
    elseif wrote == 1 or mode == 'change' then redis.call('PEXPIRE', k, ttl) end
  end
  return wrote
end
-- us_read returns the 11 fields of the copy of user u, or nil when there
-- is none or it is held. A copy written before 'tz' existed reads it as
-- missing: no time zone chosen until its next write.
local function us_read(p, u)
  local s = redis.call('HMGET', p..'us:'..u, ` + userStateFields + `, 'hold')
  if not s[1] then return nil end
  if s[12] and tonumber(s[12]) > 0 then return nil end
  table.remove(s, 12)
  return s
end
`

// findScript: KEYS[1] session key; ARGV its bucket prefix (the session's
// user has the same bucket, rediskeys.go) and the token's sha256. Returns
// {data, user id or false, copy fields...} (the copy fields only when the
// user's copy exists and is not held). When the session does not exist it
// returns 2 if the rotation marker P r:<sha256> (rotateScript, same
// bucket) names a session that still exists, else nil; only that path
// reads more than the session hash.
var findScript = redis.NewScript(1, luaUserState+`
local f = redis.call('HMGET', KEYS[1], 'd', 'u')
if not f[1] then
  local moved = redis.call('GET', ARGV[1]..'r:'..ARGV[2])
  if moved and redis.call('EXISTS', ARGV[1]..'s:'..moved) == 1 then return 2 end
  return nil
end
if not f[2] then return {f[1]} end
local s = us_read(ARGV[1], f[2])
if not s then return {f[1], f[2]} end
local out = {f[1], f[2]}
for _, v in ipairs(s) do table.insert(out, v) end
return out
`)

// holdScript: KEYS[1] copy key; ARGV hold lifetime ms.
var holdScript = redis.NewScript(1, `
redis.call('HINCRBY', KEYS[1], 'hold', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// releaseScript: KEYS[1] copy key; ARGV copy lifetime ms.
var releaseScript = redis.NewScript(1, `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 'hold', -1) <= 0 then
  redis.call('HDEL', KEYS[1], 'hold')
  if redis.call('HEXISTS', KEYS[1], 'v') == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) else redis.call('DEL', KEYS[1]) end
end
return 1
`)

// putScript: KEYS[1] copy key; ARGV mode, copy lifetime ms, the 11 fields.
var putScript = redis.NewScript(1, luaUserState+`
local f = {}
for i = 3, 13 do table.insert(f, ARGV[i]) end
return us_put(KEYS[1], f, ARGV[1], ARGV[2])
`)

// *RedisStore is the store.UserStateCache that cmd/latch gives the SQL
// store (store.DB.SetUserStateCache, which checks the type when it is
// compiled); this package does not import the SQL store, so it declares
// no assertion of its own.

func (s *RedisStore) userStateKey(id int64) string {
	return s.base(userBucket(id)) + "us:" + strconv.FormatInt(id, 10)
}

// userStateArgs returns u's copy fields in userStateFields order.
func userStateArgs(u *user.User) []any {
	disabled, epoch, created, nd := 0, int64(0), int64(0), int64(0)
	if u.Disabled {
		disabled = 1
	}
	if !u.SessionsValidAfter.IsZero() {
		epoch = u.SessionsValidAfter.Unix()
	}
	if !u.CreatedAt.IsZero() {
		created = u.CreatedAt.Unix()
	}
	if !u.NewDevice.At.IsZero() {
		nd = u.NewDevice.At.UnixMilli()
	}
	return []any{u.StateVersion, epoch, string(u.Role), disabled, u.Email, u.Name, created, nd,
		u.NewDevice.Label, u.NewDevice.Handle, u.TimeZone}
}

// parseUserState turns the 11 copy fields of user id into a principal
// (without a password hash).
func parseUserState(id int64, f []string) (*user.User, error) {
	if len(f) != 11 {
		return nil, fmt.Errorf("session: redis user state: %d fields", len(f))
	}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	u := &user.User{ID: id, StateVersion: num(f[0]), Role: user.Role(f[2]), Disabled: f[3] == "1", Email: f[4], Name: f[5],
		TimeZone: f[10]}
	if ep := num(f[1]); ep > 0 {
		u.SessionsValidAfter = time.Unix(ep, 0).UTC()
	}
	if cr := num(f[6]); cr > 0 {
		u.CreatedAt = time.Unix(cr, 0).UTC()
	}
	if nd := num(f[7]); nd > 0 {
		u.NewDevice = user.NewDevice{At: time.UnixMilli(nd).UTC(), Label: f[8], Handle: f[9]}
	}
	if !u.Role.Valid() {
		return nil, fmt.Errorf("session: redis user state: unknown role %q", f[2])
	}
	return u, nil
}

// HoldUserState implements store.UserStateCache in one script, made
// durable against a failover (evalDurable; an error wrapping
// ErrNotReplicated if no replica acknowledged it, and the change is then
// refused). A change of an account can end its sessions (disable, a new
// credential epoch): if its copy's write were lost in a failover, the old
// copy would let them in again; a hold that survives makes readers use SQL.
func (s *RedisStore) HoldUserState(ctx context.Context, userID int64) error {
	_, err := s.evalDurable(ctx, "hold user state", holdScript, func(any) bool { return true },
		s.userStateKey(userID), userStateHoldTTL.Milliseconds())
	return err
}

// ReleaseUserState implements store.UserStateCache in one script.
func (s *RedisStore) ReleaseUserState(ctx context.Context, userID int64) error {
	_, err := s.eval(ctx, "release user state", releaseScript, s.userStateKey(userID), UserStateTTL.Milliseconds())
	return err
}

// PutUserState implements store.UserStateCache in one script.
func (s *RedisStore) PutUserState(ctx context.Context, u *user.User) error {
	_, err := s.putUserState(ctx, "change", u)
	return err
}

// PopulateUserState writes u's state as read from SQL by a request that
// found no copy, unless the copy is held or one of the same or a higher
// version exists; written reports which. One script.
func (s *RedisStore) PopulateUserState(ctx context.Context, u *user.User) (written bool, err error) {
	return s.putUserState(ctx, "populate", u)
}

func (s *RedisStore) putUserState(ctx context.Context, mode string, u *user.User) (bool, error) {
	args := append([]any{s.userStateKey(u.ID), mode, UserStateTTL.Milliseconds()}, userStateArgs(u)...)
	n, err := redis.Int(s.eval(ctx, mode+" user state", putScript, args...))
	return n == 1, err
}

// loadedUser is where FindCtx leaves the account state copy it read with
// the session (a slot the Manager puts in the context of scs.Load).
type loadedUser struct {
	u *user.User // nil: no copy (missing, held, or a store without copies)
	// rotated: FindCtx found no session, but the token was rotated by a
	// re-authentication within rotatedMarkerTTL and the rotated session
	// still exists (a request sent twice, arriving after the winner).
	rotated bool
}

type loadedUserKey struct{}

func withLoadedUser(ctx context.Context, slot *loadedUser) context.Context {
	return context.WithValue(ctx, loadedUserKey{}, slot)
}

func loadedUserFrom(ctx context.Context) *loadedUser {
	slot, _ := ctx.Value(loadedUserKey{}).(*loadedUser)
	return slot
}

// userStatePopulator is a Store that keeps account state copies.
type userStatePopulator interface {
	PopulateUserState(ctx context.Context, u *user.User) (bool, error)
}

var _ userStatePopulator = (*RedisStore)(nil)
