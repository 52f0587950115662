package throttle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/redisconn"
)

// reserveScript is the reservation step in Redis (see backend.reserve).
// KEYS[1..n] are the quota keys in order, KEYS[n+1] the audit sampling
// key; ARGV[1] is n, ARGV[2] the sampling period in milliseconds (0: do
// not sample), then each quota's emission interval and period in
// microseconds. Each key holds its TAT in Unix microseconds on Redis's
// clock (TIME; Redis 5+ replicates a script's effects, so reading the
// clock before writing is allowed). A quota refuses when its new TAT would
// be more than one period ahead; the wait is by how much. The reply is
// {refused index (0 = accepted), longest wait in µs, sampled (0/1)}.
// Numbers are written with %.0f: Lua 5.1's default formatting (%.14g)
// would round a microsecond timestamp.
var reserveScript = redis.NewScript(-1, `
local n = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local refused, wait, tats = 0, 0, {}
for i = 1, n do
  local interval, period = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if tat < now then tat = now end
  tats[i] = tat + interval
  local w = tats[i] - period - now
  if w > 0 then
    if refused == 0 then refused = i end
    if w > wait then wait = w end
  end
end
if refused == 0 then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000))
  end
  return {0, 0, 0}
end
local sample = 0
local sp = tonumber(ARGV[2])
if sp > 0 and redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', sp) then sample = 1 end
return {refused, string.format('%.0f', wait), sample}
`)

// refundScript takes one emission interval (ARGV[i], µs) back from the TAT
// of each key KEYS[i]; a key that is then at rest is deleted.
var refundScript = redis.NewScript(-1, `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #KEYS do
  local tat = (tonumber(redis.call('GET', KEYS[i]) or '0') or 0) - tonumber(ARGV[i])
  if tat <= now then
    redis.call('DEL', KEYS[i])
  else
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  end
end
return 0
`)

// NewRedis returns a Limiter whose state lives in Redis under prefix (e.g.
// "latch:t:"; keys are prefix + "{t}:" + name, see redisBackend.key), shared by every instance that uses the same Redis and
// prefix. Each operation is one script call (EVALSHA, EVAL once after a
// Redis restart has forgotten the script) on a connection of pool (shared
// with the session store; no SELECT is sent: the pool's connections stay on
// the database their URL names), borrowed under the caller's context and
// bounded as a whole by timeout (LATCH_REDIS_TIMEOUT; 0 = the context
// only). It needs Redis 5 or later.
func NewRedis(pool redisconn.Source, prefix string, timeout time.Duration, q Quotas) (*Limiter, error) {
	if pool == nil {
		return nil, errors.New("throttle: nil redis pool")
	}
	return &Limiter{quotas: q, b: redisBackend{pool: pool, prefix: prefix, timeout: timeout}}, nil
}

type redisBackend struct {
	pool    redisconn.Source
	prefix  string
	timeout time.Duration
}

// key returns the Redis key of a quota or sampling key: prefix + "{t}:" +
// k. Every throttle key has the one hash tag {t}, so on a Redis Cluster
// they all live in one slot and a login decision stays one atomic script
// over its three quota keys (per account, per account and network, per
// network). No narrower tag can work: each key is shared with other
// decisions (a network's key with every account tried from it, an
// account's with every network), so any per-decision tag would split a
// quota across slots and multiply it; reserving the keys one by one
// instead would let concurrent attempts see each other's reservations
// before the refunds and refuse some wrongly (TestConcurrentReservationsNeverExceedTheQuota
// wants exactly Count of them accepted). The price is that the throttle
// does not spread over the masters: its rate is bounded by the logins the
// instances can hash (argon2id, tens per second per core), a small part
// of what one Redis master runs.
func (b redisBackend) key(k string) string { return b.prefix + "{t}:" + k }

func (b redisBackend) reserve(ctx context.Context, slots []slot, sampleKey string) (int, time.Duration, bool, error) {
	keys := make([]any, 0, 2*len(slots)+3)
	args := make([]any, 0, 2*len(slots)+2)
	sampleMS := int64(0)
	if sampleKey != "" {
		sampleMS = samplePeriod.Milliseconds()
	}
	args = append(args, len(slots), sampleMS)
	for _, s := range slots {
		keys = append(keys, b.key(s.key))
		args = append(args, s.q.Interval().Microseconds(), s.q.Period.Microseconds())
	}
	keys = append(keys, b.key(sampleKey))
	reply, err := redis.Values(b.eval(ctx, "reserve", reserveScript, len(keys), append(keys, args...)))
	if err != nil {
		return 0, 0, false, err
	}
	var refused, waitMicros, sampled int64
	if _, err := redis.Scan(reply, &refused, &waitMicros, &sampled); err != nil {
		return 0, 0, false, fmt.Errorf("throttle: reserve: %w: %w", ErrUnavailable, err)
	}
	return int(refused) - 1, time.Duration(waitMicros) * time.Microsecond, sampled == 1, nil
}

func (b redisBackend) refund(ctx context.Context, slots []slot) error {
	args := make([]any, 0, 2*len(slots))
	for _, s := range slots {
		args = append(args, b.key(s.key))
	}
	for _, s := range slots {
		args = append(args, s.q.Interval().Microseconds())
	}
	_, err := b.eval(ctx, "refund", refundScript, len(slots), args)
	return err
}

// eval runs script with nkeys keys in args, bounded by b.timeout, on a
// pooled connection (redisconn.Do: again on a dead one after a Redis
// restart). Errors wrap ErrUnavailable.
func (b redisBackend) eval(ctx context.Context, op string, script *redis.Script, nkeys int, args []any) (any, error) {
	ctx, cancel := deadline.Bound(ctx, b.timeout)
	defer cancel()
	reply, err := redisconn.Do(ctx, b.pool, func(c redis.Conn) (any, error) {
		return script.DoContext(ctx, c, append([]any{nkeys}, args...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("throttle: %s: %w: %w", op, ErrUnavailable, err)
	}
	return reply, nil
}
