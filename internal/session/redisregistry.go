package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	"golang.org/x/sync/errgroup"

	"github.com/latch/latch/internal/deadline"
)

// luaLib is shared by the scripts below. A session's hash fields:
// d data, e expiry ms, h handle, u user id, c created ms, s last seen ms,
// a absolute deadline ms, ip, ua, r remember (0/1).
//
// P{b}:app holds the bucket's app sessions (ua starts with appAgentMark,
// spelled '\1app\1' in Lua) by expiry, like P{b}:exp: commit adds to it
// in the same script that writes the record, drop (every delete, revoke,
// session-limit revocation and sweep) and rotate move or remove the
// entry, so it always holds exactly the app sessions of P{b}:exp (see
// CountByKind).
const luaLib = `
local function extend(k, exp)
  local t = redis.call('PEXPIRETIME', k)
  if t >= 0 and t < exp then redis.call('PEXPIREAT', k, exp) end
  if t == -1 then redis.call('PEXPIREAT', k, exp) end
end
-- read returns the record fields of session th, or nil when it is gone.
local function read(p, th)
  local f = redis.call('HMGET', p..'s:'..th, 'h', 'u', 'c', 's', 'a', 'e', 'ip', 'ua', 'r')
  if not f[1] then return nil end
  return f
end
-- drop deletes session th and its index entries; it returns 1 if the
-- session hash existed.
local function drop(p, th)
  local k = p..'s:'..th
  local f = redis.call('HMGET', k, 'h', 'u', 'ip')
  local n = redis.call('DEL', k)
  if f[1] and redis.call('GET', p..'h:'..f[1]) == th then redis.call('DEL', p..'h:'..f[1]) end
  if f[2] then redis.call('ZREM', p..'u:'..f[2], th) end
  if f[3] and f[3] ~= '' then redis.call('ZREM', p..'ip:'..f[3], th) end
  redis.call('ZREM', p..'all', th)
  redis.call('ZREM', p..'exp', th)
  redis.call('ZREM', p..'app', th)
  return n
end
`

// commitScript: KEYS[1] session key; ARGV mode, data, expiry ms, prefix,
// sha256(token), then optionally handle, user id, created, seen, absolute,
// ip, ua, remember; then, for a create, optionally now ms and the
// per-user session limit (0 = none), then optionally 1, the copy lifetime
// ms and the 11 fields of the account's state copy (userstate.go),
// written as a populate. Returns {1, records of the sessions revoked by
// the limit...} written, {0} gone (update of a missing session), {-1}
// exists (create of an existing one).
//
// The limit is applied here, in the script that creates the session, so
// that parallel logins cannot each see room and all stay (issue 12.6):
// the user's other live sessions beyond limit-1 are revoked, oldest login
// (c) first.
var commitScript = redis.NewScript(1, luaLib+luaUserState+`
local k, mode, exp, p, th = KEYS[1], ARGV[1], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local exists = redis.call('EXISTS', k) == 1
if mode == 'create' and exists then return {-1} end
if mode ~= 'create' and not exists then return {0} end
local out = {1}
redis.call('HSET', k, 'd', ARGV[2], 'e', ARGV[3])
if ARGV[6] then
  local h, u, seen, ip = ARGV[6], ARGV[7], tonumber(ARGV[9]), ARGV[11]
  redis.call('HSET', k, 'h', h, 'u', u, 'c', ARGV[8], 's', ARGV[9], 'a', ARGV[10], 'ip', ip, 'ua', ARGV[12], 'r', ARGV[13])
  redis.call('SET', p..'h:'..h, th, 'PXAT', exp)
  redis.call('ZADD', p..'u:'..u, exp, th)
  extend(p..'u:'..u, exp)
  if ip ~= '' then
    redis.call('ZADD', p..'ip:'..ip, exp, th)
    extend(p..'ip:'..ip, exp)
  end
  redis.call('ZADD', p..'all', seen, th)
  redis.call('ZADD', p..'exp', exp, th)
  if string.sub(ARGV[12], 1, 5) == '\1app\1' then
    redis.call('ZADD', p..'app', exp, th)
  else
    redis.call('ZREM', p..'app', th)
  end
  if mode == 'create' and ARGV[14] then
    local limit = tonumber(ARGV[15])
    if limit > 0 then
      local idx = p..'u:'..u
      redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[14])
      local live = {}
      for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
        if m ~= th then
          local c = redis.call('HGET', p..'s:'..m, 'c')
          if c then table.insert(live, {tonumber(c), m}) else redis.call('ZREM', idx, m) end
        end
      end
      if #live > limit - 1 then
        table.sort(live, function(a, b) if a[1] ~= b[1] then return a[1] < b[1] end return a[2] < b[2] end)
        for i = 1, #live - (limit - 1) do
          table.insert(out, read(p, live[i][2]))
          drop(p, live[i][2])
        end
      end
    end
    if ARGV[16] == '1' then
      local f = {}
      for i = 18, 28 do table.insert(f, ARGV[i]) end
      us_put(p..'us:'..u, f, 'populate', ARGV[17])
    end
  end
end
redis.call('PEXPIREAT', k, exp)
return out
`)

// deleteScript: KEYS[1] the bucket prefix (routing only); ARGV bucket
// prefix, sha256(token). The scripts below take the same KEYS[1].
var deleteScript = redis.NewScript(1, luaLib+`
return drop(ARGV[1], ARGV[2])
`)

// revokeScript: ARGV bucket prefix, handle. Returns the record fields or nil.
var revokeScript = redis.NewScript(1, luaLib+`
local p = ARGV[1]
local th = redis.call('GET', p..'h:'..ARGV[2])
if not th then return nil end
local f = read(p, th)
drop(p, th)
return f
`)

// listScript: ARGV bucket prefix, index key suffix ("u:42" or
// "ip:1.2.3.4"), now ms. Drops expired members, then returns the record
// fields of every live session in the index.
var listScript = redis.NewScript(1, luaLib+`
local p, idx, now = ARGV[1], ARGV[1]..ARGV[2], ARGV[3]
redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
local out = {}
for _, th in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local f = read(p, th)
  if f then table.insert(out, f) else redis.call('ZREM', idx, th) end
end
return out
`)

// revokeUserScript: ARGV bucket prefix, user id, handle to keep. Returns
// the record fields of the sessions it ended.
var revokeUserScript = redis.NewScript(1, luaLib+`
local p, idx, keep = ARGV[1], ARGV[1]..'u:'..ARGV[2], ARGV[3]
local out = {}
for _, th in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local f = read(p, th)
  if not f then
    redis.call('ZREM', idx, th)
  elseif f[1] ~= keep then
    table.insert(out, f)
    drop(p, th)
  end
end
return out
`)

// pageSeekScript: ARGV bucket prefix, count, direction ("after" or
// "before"), cursor last seen ms ("" = no cursor: from the newest), cursor
// token hash ("~" = unknown: after every member of that time), bound (a
// last seen ms no older, for "after", or no newer, for "before", than
// which members are returned; "" = none). Returns {size of the bucket's
// last-seen index, how many members lie beyond the cursor in the
// direction, sha256, last seen ms, ...} for the count members nearest the
// cursor in the direction (nearest first), within the bound.
//
// The order is newest first, equal times by descending member (as
// ZREVRANGE gives them). The cursor's position is found with two ZCOUNTs
// and a binary search by rank among the members of the cursor's time,
// comparing bytes as the sorted set does: O(log² n), whatever the depth.
var pageSeekScript = redis.NewScript(1, `
local p, count, dir, seen, th, bound = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local z = p..'all'
local n = redis.call('ZCARD', z)
local function lt(x, y)
  for i = 1, math.min(#x, #y) do
    local a, b = x:byte(i), y:byte(i)
    if a ~= b then return a < b end
  end
  return #x < #y
end
local ahead, from = 0, 0 -- members strictly before the cursor; first rank after it
if seen ~= '' then
  local newer = redis.call('ZCOUNT', z, '('..seen, '+inf')
  local ties = redis.call('ZCOUNT', z, seen, seen)
  local lo, hi = 0, ties
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if lt(th, redis.call('ZREVRANGE', z, newer + mid, newer + mid)[1]) then lo = mid + 1 else hi = mid end
  end
  ahead, from = newer + lo, newer + lo
  if lo < ties and redis.call('ZREVRANGE', z, from, from)[1] == th then from = from + 1 end
end
local out, got
if dir == 'before' then
  out = {n, ahead}
  if ahead == 0 then return out end
  got = redis.call('ZRANGE', z, n - ahead, n - ahead + math.min(count, ahead) - 1, 'WITHSCORES')
else
  out = {n, n - from}
  if count == 0 or from >= n then return out end
  got = redis.call('ZREVRANGE', z, from, from + count - 1, 'WITHSCORES')
end
local b = tonumber(bound)
for i = 1, #got, 2 do
  local sc = tonumber(got[i + 1])
  if b and ((dir == 'before' and sc > b) or (dir ~= 'before' and sc < b)) then break end
  table.insert(out, got[i])
  table.insert(out, got[i + 1])
end
return out
`)

// countScript: ARGV bucket prefix, now ms. Returns {sessions, app
// sessions} of the bucket that expire after now: two ZCOUNTs of indexes
// scored by expiry, O(log of the bucket's sessions).
var countScript = redis.NewScript(1, `
local p, after = ARGV[1], '('..ARGV[2]
return {redis.call('ZCOUNT', p..'exp', after, '+inf'), redis.call('ZCOUNT', p..'app', after, '+inf')}
`)

// handleScript: ARGV bucket prefix, handle. Returns the sha256 of the
// session the handle names, or nil.
var handleScript = redis.NewScript(1, `return redis.call('GET', ARGV[1]..'h:'..ARGV[2])`)

// readScript: ARGV bucket prefix, sha256(token)... Returns the record
// fields of each session, or false for one that is gone (whose index
// entries it removes).
var readScript = redis.NewScript(1, luaLib+`
local p = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local f = read(p, ARGV[i])
  if f then table.insert(out, f) else drop(p, ARGV[i]); table.insert(out, false) end
end
return out
`)

// sweepScript: ARGV bucket prefix, now ms, batch size. Drops up to batch
// expired sessions of the bucket from every index; returns how many.
var sweepScript = redis.NewScript(1, luaLib+`
local p = ARGV[1]
local ths = redis.call('ZRANGEBYSCORE', p..'exp', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, th in ipairs(ths) do drop(p, th) end
return #ths
`)

// rotateScript: ARGV bucket prefix, old sha256, new sha256 (both in the
// bucket), marker lifetime ms.
// Moves the session hash (RENAME keeps its TTL) and every index entry to
// the new token hash, and leaves the marker P r:<old sha256> = new sha256
// for the marker's lifetime; returns 1. When the old session is gone it
// returns 2 if a marker says it was rotated and the rotated session still
// exists (a parallel re-authentication won), else 0 (revoked or expired).
var rotateScript = redis.NewScript(1, luaLib+`
local p, old, new = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', p..'s:'..old) == 0 then
  local moved = redis.call('GET', p..'r:'..old)
  if moved and redis.call('EXISTS', p..'s:'..moved) == 1 then return 2 end
  return 0
end
redis.call('SET', p..'r:'..old, new, 'PX', ARGV[4])
redis.call('RENAME', p..'s:'..old, p..'s:'..new)
local f = redis.call('HMGET', p..'s:'..new, 'h', 'u', 'ip')
if f[1] then redis.call('SET', p..'h:'..f[1], new, 'KEEPTTL') end
local function move(z)
  local score = redis.call('ZSCORE', z, old)
  if score then
    redis.call('ZREM', z, old)
    redis.call('ZADD', z, score, new)
  end
end
if f[2] then move(p..'u:'..f[2]) end
if f[3] and f[3] ~= '' then move(p..'ip:'..f[3]) end
move(p..'all')
move(p..'exp')
move(p..'app')
return 1
`)

// Rotate implements Store in one script.
func (s *RedisStore) Rotate(ctx context.Context, oldToken, newToken string) error {
	_, base := s.key(oldToken)
	if _, nb := s.key(newToken); nb != base {
		return errPlacement
	}
	n, err := redis.Int(s.eval(ctx, "rotate", rotateScript, base, base, HashToken(oldToken), HashToken(newToken),
		rotatedMarkerTTL.Milliseconds()))
	if err != nil {
		return err
	}
	switch n {
	case 0:
		return ErrGone
	case 2:
		return ErrRotated
	}
	return nil
}

// parseRecord turns the fields of luaLib's read into a Record.
func parseRecord(v any) (Record, error) {
	f, err := redis.Strings(v, nil)
	if err != nil || len(f) != 9 {
		return Record{}, fmt.Errorf("session: redis record: unexpected reply %v: %w", v, err)
	}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	return withStoredAgent(Record{
		Handle:           f[0],
		UserID:           num(f[1]),
		Created:          time.UnixMilli(num(f[2])),
		LastSeen:         time.UnixMilli(num(f[3])),
		AbsoluteDeadline: time.UnixMilli(num(f[4])),
		Expiry:           time.UnixMilli(num(f[5])),
		IP:               f[6],
		Remember:         f[8] == "1",
	}, f[7]), nil
}

func parseRecords(v any) ([]Record, error) {
	items, err := redis.Values(v, nil)
	if err != nil {
		return nil, fmt.Errorf("session: redis records: %w", err)
	}
	out := make([]Record, 0, len(items))
	for _, it := range items {
		r, err := parseRecord(it)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func newestFirst(recs []Record) {
	sort.Slice(recs, func(i, j int) bool { return recs[i].LastSeen.After(recs[j].LastSeen) })
}

// bucketParallelism bounds how many buckets a merged read (admin view,
// sessions by IP, Sweep) works on at once: each bucket is one script on
// one pooled connection.
const bucketParallelism = 8

// eachBucket calls fn for every bucket, bucketParallelism at a time, and
// returns the first error.
func (s *RedisStore) eachBucket(ctx context.Context, fn func(ctx context.Context, b int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(bucketParallelism)
	for b := range RedisBuckets {
		g.Go(func() error { return fn(ctx, b) })
	}
	return g.Wait()
}

// evalEachBucket runs script once per bucket b with KEYS[1] and ARGV[1]
// the bucket prefix and then args(b), and passes each reply to handle
// (called from one goroutine at a time). On a single Redis all of them
// go pipelined on one connection: one round trip. A connection that
// cannot pipeline (redisconn.Cluster: the buckets live on different
// masters) gets them one by one, bucketParallelism at a time.
func (s *RedisStore) evalEachBucket(ctx context.Context, op string, script *redis.Script, args func(b int) []any,
	handle func(b int, reply any) error) error {
	call := func(b int) []any {
		base := s.base(b)
		return append([]any{base, base}, args(b)...)
	}
	// The first call loads the script if this Redis does not have it yet.
	first, err := s.eval(ctx, op, script, call(0)...)
	if err != nil {
		return err
	}
	if err := handle(0, first); err != nil {
		return err
	}
	piped, err := s.pipeline(ctx, op, script, call)
	if err != nil {
		return err
	}
	if piped != nil {
		for b := 1; b < RedisBuckets; b++ {
			if err := handle(b, piped[b-1]); err != nil {
				return err
			}
		}
		return nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bucketParallelism)
	for b := 1; b < RedisBuckets; b++ {
		g.Go(func() error {
			reply, err := s.eval(gctx, op, script, call(b)...)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			return handle(b, reply)
		})
	}
	return g.Wait()
}

// pipeline sends script for buckets 1..RedisBuckets-1 on one connection
// and returns their replies, or nil, nil when the connection cannot
// pipeline. A NOSCRIPT reply (Redis restarted since the first call) or
// any other error fails the whole call with ErrUnavailable.
func (s *RedisStore) pipeline(ctx context.Context, op string, script *redis.Script, call func(b int) []any) ([]any, error) {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	conn, err := s.pool.GetContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, err)
	}
	defer conn.Close()
	for b := 1; b < RedisBuckets; b++ {
		if err := script.SendHash(conn, call(b)...); err != nil {
			if b == 1 && conn.Err() == nil {
				return nil, nil // this connection does not pipeline (a cluster's)
			}
			return nil, fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, err)
		}
	}
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, err)
	}
	out := make([]any, 0, RedisBuckets-1)
	var first error
	for b := 1; b < RedisBuckets; b++ {
		reply, err := redis.ReceiveContext(conn, ctx)
		if err != nil && first == nil {
			first = err
		}
		out = append(out, reply)
	}
	if first != nil {
		return nil, fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, first)
	}
	return out, nil
}

func (s *RedisStore) list(ctx context.Context, op string, b int, index string) ([]Record, error) {
	base := s.base(b)
	reply, err := s.eval(ctx, op, listScript, base, base, index, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	return parseRecords(reply)
}

// UserSessions implements Registry: one script over the user's index.
func (s *RedisStore) UserSessions(ctx context.Context, userID int64) ([]Record, error) {
	recs, err := s.list(ctx, "user sessions", userBucket(userID), "u:"+strconv.FormatInt(userID, 10))
	if err != nil {
		return nil, err
	}
	newestFirst(recs)
	return recs, nil
}

// sessionsByIP reads every bucket's index of ip (evalEachBucket), newest
// first.
func (s *RedisStore) sessionsByIP(ctx context.Context, ip string) ([]Record, error) {
	var all []Record
	now := time.Now().UnixMilli()
	err := s.evalEachBucket(ctx, "sessions by ip", listScript, func(int) []any { return []any{"ip:" + ip, now} },
		func(_ int, reply any) error {
			recs, err := parseRecords(reply)
			all = append(all, recs...)
			return err
		})
	if err != nil {
		return nil, err
	}
	newestFirst(all)
	return all, nil
}

// Sessions implements Registry. A user filter reads that user's index
// (one script, O(its sessions)); an IP filter reads that IP's index in
// every bucket; either list is then ordered and cut by pageOf (equal
// times by descending handle). No filter merges the buckets' last-seen
// indexes from q's cursor, if any (seekOf, lastSeenHeads: the cost does
// not grow with the cursor's depth, only with q.Offset), cuts the page
// from the merge and reads its records from their buckets (one script
// per bucket on the page, bucketParallelism at a time); no script spans
// two buckets.
func (s *RedisStore) Sessions(ctx context.Context, q Query) (Page, error) {
	q = normalizeQuery(q)
	if q.UserID != 0 || q.IP != "" {
		var recs []Record
		var err error
		if q.UserID != 0 {
			recs, err = s.UserSessions(ctx, q.UserID)
		} else {
			recs, err = s.sessionsByIP(ctx, q.IP)
		}
		if err != nil {
			return Page{}, err
		}
		filtered := recs[:0]
		for _, r := range recs {
			if q.IP == "" || r.IP == q.IP {
				filtered = append(filtered, r)
			}
		}
		return pageOf(filtered, q), nil
	}
	sk, err := s.seekOf(ctx, q)
	if err != nil {
		return Page{}, err
	}
	need := q.Offset + q.Limit
	heads, total, err := s.lastSeenHeads(ctx, need, sk)
	if err != nil {
		return Page{}, err
	}
	var entries []pageEntry
	for _, h := range heads {
		entries = append(entries, h...)
	}
	sort.Slice(entries, func(i, j int) bool { return sk.nearer(entries[i], entries[j]) })
	if q.Offset >= len(entries) {
		return Page{Total: total}, nil
	}
	entries = entries[q.Offset:min(len(entries), need)]
	if sk.before {
		slices.Reverse(entries) // the page newest first
	}
	byBucket := map[int][]string{}
	for _, e := range entries {
		byBucket[e.b] = append(byBucket[e.b], e.th)
	}
	found := map[string]Record{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bucketParallelism) // the page's buckets (up to Limit of them), a few at a time
	for b, ths := range byBucket {
		g.Go(func() error {
			base := s.base(b)
			args := []any{base, base}
			for _, th := range ths {
				args = append(args, th)
			}
			items, err := redis.Values(s.eval(gctx, "sessions", readScript, args...))
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for i, it := range items {
				if it == nil || i >= len(ths) {
					total-- // gone since the index was read; its entries are removed now
					continue
				}
				rec, err := parseRecord(it)
				if err != nil {
					return err
				}
				found[ths[i]] = rec
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Page{}, err
	}
	page := Page{Total: total}
	for _, e := range entries {
		if rec, ok := found[e.th]; ok {
			page.Records = append(page.Records, rec)
		}
	}
	return page, nil
}

// pageEntry is one member of a bucket's last-seen index.
type pageEntry struct {
	b    int
	th   string
	seen int64
}

// before orders entries newest first, and equal times by descending
// hash, as ZREVRANGE orders one bucket's members.
func (e pageEntry) before(o pageEntry) bool {
	if e.seen != o.seen {
		return e.seen > o.seen
	}
	return e.th > o.th
}

// seek is where a merged read of the last-seen indexes starts: from the
// newest (the zero seek), or after or before a cursor (Query.After,
// Query.Before) given as the cursor session's last seen ms and token
// hash.
type seek struct {
	set, before bool
	seen        int64
	th          string // "~" when the cursor's session is gone (above every hash)
}

// seekOf resolves q's cursor: its handle names the token hash, the
// tie-break of equal times, with one script in the handle's bucket. A
// cursor whose session has ended since (no handle) stands above every
// session of its time: a next page then starts with all of them (one may
// have been on the previous page too), a previous page ends before them.
func (s *RedisStore) seekOf(ctx context.Context, q Query) (seek, error) {
	c, before := q.After, false
	if c == nil {
		c, before = q.Before, true
	}
	if c == nil {
		return seek{}, nil
	}
	sk := seek{set: true, before: before, seen: c.LastSeen.UnixMilli(), th: "~"}
	base := s.base(hashBucket(HashToken(c.Handle)))
	th, err := redis.String(s.eval(ctx, "sessions", handleScript, base, base, c.Handle))
	switch {
	case err == nil:
		sk.th = th
	case !errors.Is(err, redis.ErrNil):
		return seek{}, err
	}
	return sk, nil
}

// nearer orders entries by their distance from the seek's start in its
// direction: newest first (pageEntry.before), or for a previous page
// oldest first.
func (sk seek) nearer(a, b pageEntry) bool {
	if sk.before {
		return b.before(a)
	}
	return a.before(b)
}

// args returns pageSeekScript's ARGV after the bucket prefix for count
// members within bound ("" = none).
func (sk seek) args(count int, bound string) []any {
	dir, seen := "after", ""
	if sk.before {
		dir = "before"
	}
	if sk.set {
		seen = strconv.FormatInt(sk.seen, 10)
	}
	th := sk.th
	if th == "" {
		th = "~"
	}
	return []any{count, dir, seen, th, bound}
}

// lastSeenHeads returns, per bucket, a prefix of its last-seen index
// from sk in sk's direction (nearest first) that holds every member of
// the need sessions nearest to sk overall, and the total of all the
// indexes' sizes. It works in two rounds, as the threshold algorithm of
// top-k queries over distributed lists does (Cao and Wang, "Efficient
// top-K query calculation in distributed networks", PODC 2004): every
// bucket gives its k nearest members, k = 2·need/RedisBuckets rounded up
// (one for a first page); the need-th nearest time among those, τ, is no
// farther than the need-th nearest overall, so a member of the overall
// need nearest is either among them or in a bucket whose k-th member is
// not farther than τ, and only those buckets are read again for
// everything not farther than τ (at most need members each). Each read
// finds sk in its bucket in O(log² n) (pageSeekScript), so the cost does
// not grow with the depth of the cursor: RedisBuckets small scripts plus
// a few, bucketParallelism at a time.
func (s *RedisStore) lastSeenHeads(ctx context.Context, need int, sk seek) (map[int][]pageEntry, int, error) {
	k := max(1, (2*need+RedisBuckets-1)/RedisBuckets)
	var mu sync.Mutex
	heads := map[int][]pageEntry{}
	more := map[int]bool{} // buckets with members beyond the k returned
	total := 0
	err := s.evalEachBucket(ctx, "sessions", pageSeekScript, func(int) []any { return sk.args(k, "") }, func(b int, reply any) error {
		got, n, beyond, err := parseHead(b, reply)
		if err != nil {
			return err
		}
		total += n
		if len(got) > 0 {
			heads[b] = got
		}
		if beyond > len(got) {
			more[b] = true
		}
		return nil
	})
	if err != nil || len(more) == 0 {
		return heads, total, err
	}
	var all []pageEntry
	for _, h := range heads {
		all = append(all, h...)
	}
	tau, bounded := "", len(all) >= need
	var tauSeen int64
	if bounded {
		sort.Slice(all, func(i, j int) bool { return sk.nearer(all[i], all[j]) })
		tauSeen = all[need-1].seen
		tau = strconv.FormatInt(tauSeen, 10)
	}
	var again []int
	for b := range more {
		h := heads[b]
		last := h[len(h)-1].seen
		if !bounded || (!sk.before && last >= tauSeen) || (sk.before && last <= tauSeen) {
			again = append(again, b) // else its k-th member is farther than τ: nothing more of it is on the page
		}
	}
	reread := map[int][]pageEntry{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bucketParallelism)
	for _, b := range again {
		g.Go(func() error {
			base := s.base(b)
			reply, err := s.eval(gctx, "sessions", pageSeekScript, append([]any{base, base}, sk.args(need, tau)...)...)
			if err != nil {
				return err
			}
			got, _, _, err := parseHead(b, reply)
			if err != nil {
				return err
			}
			mu.Lock()
			reread[b] = got
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	maps.Copy(heads, reread)
	return heads, total, nil
}

// parseHead parses pageSeekScript's reply for bucket b: the members, the
// bucket's index size and how many members lie beyond the cursor.
func parseHead(b int, reply any) ([]pageEntry, int, int, error) {
	items, err := redis.Values(reply, nil)
	if err != nil || len(items) < 2 || len(items)%2 != 0 {
		return nil, 0, 0, fmt.Errorf("session: redis sessions: %w: unexpected reply %v", ErrUnavailable, err)
	}
	n, _ := redis.Int(items[0], nil)
	beyond, _ := redis.Int(items[1], nil)
	var got []pageEntry
	for i := 2; i+1 < len(items); i += 2 {
		th, _ := redis.String(items[i], nil)
		seen, _ := redis.Int64(items[i+1], nil)
		got = append(got, pageEntry{b, th, seen})
	}
	return got, n, beyond, nil
}

// Revoke implements Registry in one script, in the handle's bucket, made
// durable against a failover when it ended a session (evalDurable: an
// error wrapping ErrNotReplicated if no replica acknowledged it).
func (s *RedisStore) Revoke(ctx context.Context, handle string) (Record, bool, error) {
	base := s.base(hashBucket(HashToken(handle)))
	reply, err := s.evalDurable(ctx, "revoke", revokeScript, endedOne, base, base, handle)
	if err != nil || reply == nil {
		return Record{}, false, err
	}
	rec, err := parseRecord(reply)
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

// RevokeUser implements Registry in one script, in the user's bucket, made
// durable against a failover when it ended a session (evalDurable: an
// error wrapping ErrNotReplicated if no replica acknowledged it).
func (s *RedisStore) RevokeUser(ctx context.Context, userID int64, except string) ([]Record, error) {
	base := s.base(userBucket(userID))
	reply, err := s.evalDurable(ctx, "revoke user", revokeUserScript, endedAny, base, base, userID, except)
	if err != nil {
		return nil, err
	}
	recs, err := parseRecords(reply)
	if err != nil {
		return nil, err
	}
	newestFirst(recs)
	return recs, nil
}

// sweepBatch bounds the work of one sweep script, so Redis is never
// blocked for long.
const sweepBatch = 500

// Sweep implements Registry: in every bucket (bucketParallelism at a
// time), batches of expired sessions leave every index.
func (s *RedisStore) Sweep(ctx context.Context) (int, error) {
	var total atomic.Int64
	err := s.eachBucket(ctx, func(ctx context.Context, b int) error {
		base := s.base(b)
		for {
			n, err := redis.Int(s.eval(ctx, "sweep", sweepScript, base, base, time.Now().UnixMilli(), sweepBatch))
			if err != nil {
				return err
			}
			total.Add(int64(n))
			if n < sweepBatch {
				return nil
			}
		}
	})
	return int(total.Load()), err
}

// CountByKind implements Registry: in every bucket, countScript counts
// the sessions of its expiry index and of its app index that expire
// after now (pipelined on one connection on a single Redis, one script
// per bucket on a cluster: evalEachBucket). Sessions expired but not yet
// swept are not counted (their index scores are their expiry times), so
// the counts are exact at now, as the SQL store's are; Sessions' Total
// (the size of the last-seen indexes) may still count those. An app
// session created before the app index existed (a Latch without it) is
// counted as a browser session until its next recorded activity: every
// commit with a record adds its session to the app index again.
func (s *RedisStore) CountByKind(ctx context.Context) (browser, app int, err error) {
	now := time.Now().UnixMilli()
	total := 0
	err = s.evalEachBucket(ctx, "count by kind", countScript, func(int) []any { return []any{now} },
		func(_ int, reply any) error {
			n, err := redis.Ints(reply, nil)
			if err != nil || len(n) != 2 {
				return fmt.Errorf("session: redis count by kind: %w: unexpected reply %v", ErrUnavailable, err)
			}
			total += n[0]
			app += n[1]
			return nil
		})
	if err != nil {
		return 0, 0, err
	}
	return total - app, app, nil
}
