package session

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"
)

// luaLib is shared by the scripts below. A session's hash fields:
// d data, e expiry ms, h handle, u user id, c created ms, s last seen ms,
// a absolute deadline ms, ip, ua, r remember (0/1).
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

// deleteScript: ARGV prefix, sha256(token).
var deleteScript = redis.NewScript(0, luaLib+`
return drop(ARGV[1], ARGV[2])
`)

// revokeScript: ARGV prefix, handle. Returns the record fields or nil.
var revokeScript = redis.NewScript(0, luaLib+`
local p = ARGV[1]
local th = redis.call('GET', p..'h:'..ARGV[2])
if not th then return nil end
local f = read(p, th)
drop(p, th)
return f
`)

// listScript: ARGV prefix, index key suffix ("u:42" or "ip:1.2.3.4"), now
// ms. Drops expired members, then returns the record fields of every live
// session in the index.
var listScript = redis.NewScript(0, luaLib+`
local p, idx, now = ARGV[1], ARGV[1]..ARGV[2], ARGV[3]
redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
local out = {}
for _, th in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local f = read(p, th)
  if f then table.insert(out, f) else redis.call('ZREM', idx, th) end
end
return out
`)

// revokeUserScript: ARGV prefix, user id, handle to keep. Returns the
// record fields of the sessions it ended.
var revokeUserScript = redis.NewScript(0, luaLib+`
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

// pageScript: ARGV prefix, offset, count. Returns {total, records...} from
// the last-seen index, newest first; members whose session is gone are
// removed on the way.
var pageScript = redis.NewScript(0, luaLib+`
local p, off, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {0}
for _, th in ipairs(redis.call('ZREVRANGE', p..'all', off, off + n - 1)) do
  local f = read(p, th)
  if f then table.insert(out, f) else drop(p, th) end
end
out[1] = redis.call('ZCARD', p..'all')
return out
`)

// sweepScript: ARGV prefix, now ms, batch size. Drops up to batch expired
// sessions from every index; returns how many.
var sweepScript = redis.NewScript(0, luaLib+`
local p = ARGV[1]
local ths = redis.call('ZRANGEBYSCORE', p..'exp', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, th in ipairs(ths) do drop(p, th) end
return #ths
`)

// rotateScript: ARGV prefix, old sha256, new sha256, marker lifetime ms.
// Moves the session hash (RENAME keeps its TTL) and every index entry to
// the new token hash, and leaves the marker P r:<old sha256> = new sha256
// for the marker's lifetime; returns 1. When the old session is gone it
// returns 2 if a marker says it was rotated and the rotated session still
// exists (a parallel re-authentication won), else 0 (revoked or expired).
var rotateScript = redis.NewScript(0, luaLib+`
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
return 1
`)

// Rotate implements Store in one script.
func (s *RedisStore) Rotate(ctx context.Context, oldToken, newToken string) error {
	n, err := redis.Int(s.eval(ctx, "rotate", rotateScript, s.prefix, HashToken(oldToken), HashToken(newToken),
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
	return Record{
		Handle:           f[0],
		UserID:           num(f[1]),
		Created:          time.UnixMilli(num(f[2])),
		LastSeen:         time.UnixMilli(num(f[3])),
		AbsoluteDeadline: time.UnixMilli(num(f[4])),
		Expiry:           time.UnixMilli(num(f[5])),
		IP:               f[6],
		UserAgent:        f[7],
		Remember:         f[8] == "1",
	}, nil
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

func (s *RedisStore) list(ctx context.Context, op, index string) ([]Record, error) {
	return s.evalRecords(ctx, op, listScript, s.prefix, index, time.Now().UnixMilli())
}

// evalRecords runs a script that replies with record fields (eval) and
// returns the records, newest activity first.
func (s *RedisStore) evalRecords(ctx context.Context, op string, script *redis.Script, args ...any) ([]Record, error) {
	reply, err := s.eval(ctx, op, script, args...)
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

// UserSessions implements Registry: one script over the user's index.
func (s *RedisStore) UserSessions(ctx context.Context, userID int64) ([]Record, error) {
	return s.list(ctx, "user sessions", "u:"+strconv.FormatInt(userID, 10))
}

// Sessions implements Registry. A user or IP filter reads that index
// (O(its sessions)); no filter pages through the last-seen index
// (O(log n + page size)).
func (s *RedisStore) Sessions(ctx context.Context, q Query) (Page, error) {
	q = normalizeQuery(q)
	if q.UserID != 0 || q.IP != "" {
		var recs []Record
		var err error
		if q.UserID != 0 {
			recs, err = s.UserSessions(ctx, q.UserID)
		} else {
			recs, err = s.list(ctx, "sessions by ip", "ip:"+q.IP)
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
		page := Page{Total: len(filtered)}
		if q.Offset < len(filtered) {
			page.Records = filtered[q.Offset:min(len(filtered), q.Offset+q.Limit)]
		}
		return page, nil
	}
	reply, err := s.eval(ctx, "sessions", pageScript, s.prefix, q.Offset, q.Limit)
	if err != nil {
		return Page{}, err
	}
	items, err := redis.Values(reply, nil)
	if err != nil || len(items) == 0 {
		return Page{}, fmt.Errorf("session: redis sessions: unexpected reply: %w", err)
	}
	total, _ := redis.Int(items[0], nil)
	recs, err := parseRecords(items[1:])
	if err != nil {
		return Page{}, err
	}
	return Page{Records: recs, Total: total}, nil
}

// Revoke implements Registry in one script, made durable against a
// failover when it ended a session (evalDurable: an error wrapping
// ErrNotReplicated if no replica acknowledged it).
func (s *RedisStore) Revoke(ctx context.Context, handle string) (Record, bool, error) {
	reply, err := s.evalDurable(ctx, "revoke", revokeScript, endedOne, s.prefix, handle)
	if err != nil || reply == nil {
		return Record{}, false, err
	}
	rec, err := parseRecord(reply)
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

// RevokeUser implements Registry in one script, made durable against a
// failover when it ended a session (evalDurable: an error wrapping
// ErrNotReplicated if no replica acknowledged it).
func (s *RedisStore) RevokeUser(ctx context.Context, userID int64, except string) ([]Record, error) {
	reply, err := s.evalDurable(ctx, "revoke user", revokeUserScript, endedAny, s.prefix, userID, except)
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

// Sweep implements Registry: batches of expired sessions leave every index.
func (s *RedisStore) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := redis.Int(s.eval(ctx, "sweep", sweepScript, s.prefix, time.Now().UnixMilli(), sweepBatch))
		if err != nil {
			return total, err
		}
		total += n
		if n < sweepBatch {
			return total, nil
		}
	}
}
