// Package throttle slows down password guessing. It limits login attempts
// per account, per account and client network, and per client network, and
// registration attempts per client network, with the generic cell rate
// algorithm (GCRA; see Quota). The state lives in Redis, shared by every
// Latch instance on it (NewRedis), or, in the embedded single-instance
// mode, in this process's memory (NewMemory); both give the same answers
// (one contract test suite runs on both).
//
// # Reserve, then verify
//
// A login attempt is reserved before its password is verified
// (Limiter.ReserveLogin): one atomic step checks every applicable quota
// and, only if all of them accept, counts the attempt against all of them.
// In Redis that step is one Lua script (one EVALSHA, one round trip), so N
// parallel guesses on any number of instances get at most the quota's
// number of passwords verified. If any quota refuses, nothing is counted
// (hammering does not extend the wait) and the answer says which quota
// refused, in the order ip, account+ip, account, and how long until the
// attempt would be accepted. Whether a refused attempt is written to the
// audit log (the first per account and network a minute) is decided in the
// same step, so a refusal is one round trip too. A successful login hands
// its reservation back (Limiter.Refund, one more round trip), so only
// failures use up a quota.
//
// This package replaced github.com/throttled/throttled/v2, which could not
// do this: its limiter counts one key at a time, so checking three quotas
// and counting all or none of them cannot be one atomic step; its "peek"
// (quantity 0) writes, and in v2.15.0 counts when that write loses a race
// with a concurrent request; and its Redis store sends SELECT on every call
// (about 30 commands for one failed login).
//
// Exempting the owner's known networks from the per-account quota is the
// caller's decision: when only ScopeAccount refused, the server looks the
// network up and, if the account signed in from it recently, reserves
// again with the account quota exempt. The per-account-and-network and
// per-network quotas apply to known networks too.
//
// Keys never hold an email address: an account is named by the SHA-256 of
// its normalised address (lower-cased, as user.NormalizeEmail makes its
// lookup key), whether or not the account exists, so unknown and known
// addresses are throttled alike and throttling reveals nothing. A client
// is named by its network (clientnet.Of: an IPv4 address, or an IPv6 /64).
// Under the prefix P (LATCH_REDIS_KEY_PREFIX + "t:"):
//
//	P la:<sha256(account)>             login attempts for the account
//	P lai:<sha256(account NUL net)>    login attempts for the account from the network
//	P li:<net>                         login attempts from the network
//	P r:<net>                          registrations from the network
//	P ls:<sha256(account NUL net)>     audit sampling of refused attempts
//
// Each quota key holds its theoretical arrival time (TAT, Unix
// microseconds, on Redis's clock) and expires when it is back at rest.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/latch/latch/internal/clientnet"
	// Imported as failure: the package's tests have a helper named fail.
	failure "github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/user"
)

// ErrUnavailable wraps every failure to reach the counters (Redis down,
// too slow, or refusing). The server answers it with 503: it fails closed,
// since a login needs the same Redis for its session anyway, and failing open
// would hand an attacker who can slow Redis down unlimited guesses. Its
// kind is fail.Unavailable.
var ErrUnavailable = failure.New(failure.Unavailable, "throttle: counter store unavailable")

// Scope names the quota that refused an attempt.
type Scope string

// The quotas, as Verdict.Scope reports them.
const (
	ScopeAccount   Scope = "account"
	ScopeAccountIP Scope = "account+ip"
	ScopeIP        Scope = "ip"
	ScopeRegister  Scope = "register"
)

// Verdict is the answer to a reservation.
type Verdict struct {
	// RetryAfter is how long the client must wait before the attempt would
	// be accepted (the longest wait of the quotas that refused); 0 means it
	// was accepted.
	RetryAfter time.Duration
	// Scope is the first quota that refused, in the order ip, account+ip,
	// account; "" when accepted.
	Scope Scope
}

// Limited reports whether the attempt is refused.
func (v Verdict) Limited() bool { return v.RetryAfter > 0 }

// Err returns nil when v accepted the attempt, else an error of kind
// fail.Throttled naming the quota, whose fail.RetryAfterOf is v.RetryAfter
// (the server answers it with 429 and Retry-After).
func (v Verdict) Err() error {
	if !v.Limited() {
		return nil
	}
	return failure.Throttle("throttle: "+string(v.Scope)+" quota used up", v.RetryAfter)
}

// samplePeriod is how often a refused login per account and network is
// audited: once a minute.
const samplePeriod = time.Minute

// Reservation is a login attempt as ReserveLogin answered it.
type Reservation struct {
	// Verdict tells whether the attempt was accepted (and counted against
	// every quota in slots) or refused (nothing counted).
	Verdict
	// Audit is true for the first refused attempt per account and network
	// in a minute: the one the server writes to the audit log.
	Audit bool
	// slots are the quotas the accepted attempt was counted against, for
	// Refund; nil when refused.
	slots []slot
}

// slot is one quota applied to one key.
type slot struct {
	key   string
	q     Quota
	scope Scope
}

// backend does the atomic steps on the stored state (Redis or memory).
type backend interface {
	// reserve checks slots in order and, if none refuses, counts one
	// attempt against each. Otherwise it counts nothing and returns the
	// index of the first that refused and the longest wait; then, when
	// sampleKey is not "", it also tells whether sampleKey was at rest
	// (and puts it to work for samplePeriod).
	reserve(ctx context.Context, slots []slot, sampleKey string) (refused int, wait time.Duration, sample bool, err error)
	// refund takes one attempt back from each slot.
	refund(ctx context.Context, slots []slot) error
}

// Limiter enforces Quotas. It is safe for concurrent use.
type Limiter struct {
	quotas Quotas
	b      backend
}

// Quotas returns the limits l enforces.
func (l *Limiter) Quotas() Quotas { return l.quotas }

// ReserveLogin reserves one login attempt for account (the email address
// as typed) from ip (the client IP) before its password is verified:
// atomically, it counts the attempt against the per-IP, per-account+IP and
// (unless exemptAccount) per-account quotas if all of them accept it, and
// counts nothing if any refuses (Reservation.Verdict then says which and
// for how long; Reservation.Audit whether to audit the refusal). Quotas
// that are off are skipped. Call Refund with an accepted reservation when
// the login succeeds. Errors wrap ErrUnavailable; nothing is counted then.
func (l *Limiter) ReserveLogin(ctx context.Context, account, ip string, exemptAccount bool) (Reservation, error) {
	acct, net := accountName(account), networkName(ip)
	all := [...]slot{
		{"li:" + net, l.quotas.IP, ScopeIP},
		{"lai:" + digest(acct, net), l.quotas.AccountIP, ScopeAccountIP},
		{"la:" + digest(acct), l.quotas.Account, ScopeAccount},
	}
	slots := make([]slot, 0, len(all))
	for _, s := range all {
		if s.q.Off() || (exemptAccount && s.scope == ScopeAccount) {
			continue
		}
		slots = append(slots, s)
	}
	if len(slots) == 0 {
		return Reservation{}, nil
	}
	refused, wait, sample, err := l.b.reserve(ctx, slots, "ls:"+digest(acct, net))
	if err != nil {
		return Reservation{}, err
	}
	if refused < 0 {
		return Reservation{slots: slots}, nil
	}
	return Reservation{Verdict: Verdict{RetryAfter: wait, Scope: slots[refused].scope}, Audit: sample}, nil
}

// Refund hands back the attempt r reserved (after a successful login: only
// failures use up the quotas). A refused or empty reservation is a no-op.
// Errors wrap ErrUnavailable.
func (l *Limiter) Refund(ctx context.Context, r Reservation) error {
	if len(r.slots) == 0 {
		return nil
	}
	return l.b.refund(ctx, r.slots)
}

// Register counts one registration attempt from ip (the client IP) and
// tells whether it may go ahead; a refused attempt is not counted. It is
// the reservation step with the one registration quota, and is never
// refunded. Errors wrap ErrUnavailable.
func (l *Limiter) Register(ctx context.Context, ip string) (Verdict, error) {
	if l.quotas.Register.Off() {
		return Verdict{}, nil
	}
	refused, wait, _, err := l.b.reserve(ctx, []slot{{"r:" + networkName(ip), l.quotas.Register, ScopeRegister}}, "")
	if err != nil || refused < 0 {
		return Verdict{}, err
	}
	return Verdict{RetryAfter: wait, Scope: ScopeRegister}, nil
}

// accountName is the account's identity for counting: the lower-cased
// address user.NormalizeEmail makes the lookup key of, or, for text that is
// no valid address (no account can have it), the trimmed, lower-cased text.
func accountName(account string) string {
	if _, key, err := user.NormalizeEmail(account); err == nil {
		return key
	}
	return strings.ToLower(strings.TrimSpace(account))
}

// networkName is the client network as counted (clientnet.Of: a zone is
// dropped, so "10.3.3.3%z1" and "::ffff:10.3.3.3%z2" are "10.3.3.3").
// Text that is no IP (it should not happen: the server passes the address
// it parsed) is counted under the one shared name invalidNetwork, so that
// no key holds client text and no client can mint a fresh bucket per
// variant of what it sends.
func networkName(ip string) string {
	if n, ok := clientnet.Of(ip); ok {
		return n
	}
	return invalidNetwork
}

// invalidNetwork is the network every unparseable client IP counts as.
const invalidNetwork = "invalid"

// digest is the hex SHA-256 of parts joined by NUL bytes.
func digest(parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
