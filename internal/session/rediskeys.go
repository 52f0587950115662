package session

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// Key layout of RedisStore: buckets (the same on a single Redis and on a
// Redis Cluster).
//
// Redis Cluster runs a script only when every key it touches is in one
// hash slot, and a key's slot is that of its hash tag, the text between
// the first "{" and the next "}". Latch's scripts touch a session, its
// handle, its user's index and the user's account state copy together
// (FindCtx reads the session and the copy in one script, the hot path;
// a login writes the session, its handle, the user's index and the copy
// in one), so all of a user's keys must share one tag. Every key is
//
//	<prefix>{<bucket>}:<kind>:<id>
//
// with bucket = user id mod RedisBuckets (user ids are SQL sequences, so
// consecutive accounts fill the buckets in turn).
//
// A request names its session by the cookie alone, so the cookie must
// tell the bucket. Rather than change the token's format (scs makes the
// tokens, and a user id visible in the cookie would say more than a
// random token does), the Manager keeps drawing tokens until one falls in
// its user's bucket: a token's bucket is the first 16 bits of its SHA-256
// (the hash that names the stored session anyway) mod RedisBuckets, and
// a handle's likewise. That is RedisBuckets draws on average of each per
// login, no Redis command (about 1 ms of CPU for both on the 2-core test
// machine, BenchmarkLoginPlacement, beside an argon2id hash of tens of
// ms), and costs log2(RedisBuckets) = 10 of the token's 256 random bits,
// leaving 246 (OWASP ASVS 5.0 V7.2.3 asks for at least 128). A
// re-authentication's new token is drawn the same way, so a rotation
// stays in its bucket. Stores other than RedisStore take any token.
//
// Indexes across users (every session by last seen for the admin view,
// by expiry for Sweep, by client IP) are kept per bucket and merged by
// the reader: no script or MULTI ever spans two buckets.
//
// RedisBuckets bounds how far the session store scales out: 1024 buckets
// spread over up to a few hundred masters (the bucket tags "0".."1023"
// fall 345/336/343 on a 3-master cluster's thirds of the slots). Changing
// it, or the layout, moves every key: existing sessions are then not
// found (everyone signs in again once), which is what upgrading to this
// layout from the untagged one (P s:<hash>, P u:<id>, ...) does.
const RedisBuckets = 1024

// errPlacement reports a session whose token or handle is not in its
// user's bucket (a caller that did not draw it with RedisStore's rule).
var errPlacement = errors.New("session: redis: token or handle not in the user's bucket (see RedisBuckets)")

// userBucket returns the bucket of user id's keys.
func userBucket(userID int64) int {
	b := userID % RedisBuckets
	if b < 0 {
		b += RedisBuckets
	}
	return int(b)
}

// hashBucket returns the bucket of a token or handle from its hex
// SHA-256 (HashToken).
func hashBucket(hexHash string) int {
	var b [2]byte
	if len(hexHash) < 4 {
		return 0
	}
	if _, err := hex.Decode(b[:], []byte(hexHash[:4])); err != nil {
		return 0
	}
	return (int(b[0])<<8 | int(b[1])) % RedisBuckets
}

// base returns the key prefix of bucket b: "<prefix>{b}:".
func (s *RedisStore) base(b int) string {
	return s.prefix + "{" + strconv.Itoa(b) + "}:"
}

// TokenPlacer is a Store that needs each session token and handle to fall
// in its user's bucket; the Manager draws them until Fits says so. A
// wrapper around such a Store (metrics, tracing) must implement it too,
// forwarding Fits; otherwise the store refuses the Manager's logins
// (errPlacement) rather than misfile them.
type TokenPlacer interface {
	// Fits reports whether the session token or handle v may name a
	// session of userID.
	Fits(userID int64, v string) bool
}

var _ TokenPlacer = (*RedisStore)(nil)

// Fits implements TokenPlacer: v's bucket (hashBucket of its SHA-256) is
// userID's.
func (s *RedisStore) Fits(userID int64, v string) bool {
	return hashBucket(HashToken(v)) == userBucket(userID)
}

// validPrefix reports whether prefix can start RedisStore's keys: a "{"
// or "}" in it would move the hash tag.
func validPrefix(prefix string) bool {
	return !strings.ContainsAny(prefix, "{}")
}
