// Package quota is the value type of Latch's attempt limits: how many failed
// logins or registrations a key may make, and how fast they come back. It
// imports nothing of Latch, so the configuration (internal/config) can
// read quotas from LATCH_THROTTLE_* without importing the limiter that
// enforces them (internal/throttle, which links redigo).
package quota

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Quota is how many attempts a key may make: Count at once from rest, and
// after that one more every Period/Count, so the full allowance comes back
// after Period without attempts. The zero Quota is "off": no limit.
//
// In GCRA terms (ITU-T I.371's virtual scheduling, as in Brandur Leach's
// redis-cell): the emission interval is Period/Count and the tolerance
// Period; each key holds a theoretical arrival time (TAT), an attempt
// moves it on by one interval, and an attempt is refused while the new
// TAT would be more than Period ahead of now.
type Quota struct {
	Count  int
	Period time.Duration
}

// Off reports whether q imposes no limit.
func (q Quota) Off() bool { return q.Count == 0 }

// Interval is the time one attempt takes to come back (Period/Count); 0 when
// q is off.
func (q Quota) Interval() time.Duration {
	if q.Off() {
		return 0
	}
	return q.Period / time.Duration(q.Count)
}

// String formats q the way Parse reads it: "10/1h0m0s" or "off".
func (q Quota) String() string {
	if q.Off() {
		return "off"
	}
	return strconv.Itoa(q.Count) + "/" + q.Period.String()
}

// Parse reads "COUNT/PERIOD" (e.g. "10/1h": 10 at once, then one
// every 6 minutes) or "off". COUNT is 1 to 1,000,000; PERIOD is a Go
// duration from 1ms to 8760h (a year).
func Parse(s string) (Quota, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return Quota{}, nil
	}
	countText, periodText, ok := strings.Cut(s, "/")
	if !ok {
		return Quota{}, errors.New(`want COUNT/PERIOD such as 10/1h, or "off"`)
	}
	count, err := strconv.Atoi(strings.TrimSpace(countText))
	if err != nil || count < 1 || count > 1_000_000 {
		return Quota{}, fmt.Errorf("count %q must be a whole number from 1 to 1000000", countText)
	}
	period, err := time.ParseDuration(strings.TrimSpace(periodText))
	if err != nil {
		return Quota{}, fmt.Errorf("period %q is not a Go duration such as 15m or 1h", periodText)
	}
	if period < time.Millisecond || period > 8760*time.Hour {
		return Quota{}, fmt.Errorf("period %s must be from 1ms to 8760h", period)
	}
	return Quota{Count: count, Period: period}, nil
}

// Quotas are the limits a throttle.Limiter enforces. Any of them may be off.
type Quotas struct {
	// Account limits failed logins for one email address from everywhere,
	// except from a network the account has recently signed in from (the
	// server checks that; see internal/throttle's package comment).
	Account Quota
	// AccountIP limits failed logins for one email address from one client
	// network (clientnet.Of: an IPv4 address, an IPv6 /64).
	AccountIP Quota
	// IP limits failed logins from one client network, whatever the account.
	IP Quota
	// Register limits registration attempts from one client network.
	Register Quota
}

// Defaults returns the defaults, chosen as follows.
//
//   - Account 10/1h. Nobody mistypes their own password ten times in a row
//     and then once every six minutes; an attacker with any number of IPs
//     gets at most 10 + 24×10 = 250 guesses a day at one account (against a
//     12-character minimum password, NIST SP 800-63B's "effectively limit
//     failed attempts" without a lockout). The owner's known networks are exempt,
//     so an attack from elsewhere does not lock them out.
//   - AccountIP 5/15m. One place gets 5 tries at an account, then one every
//     3 minutes: it keeps one source from spending the whole account
//     allowance (others, e.g. the owner on a new phone, keep 5), and it is
//     the limit that still applies from the owner's own known network.
//   - IP 60/10m. Password spraying from one address (a few guesses at many
//     accounts) gets 60 at once, then one every 10 seconds; 60 is high
//     enough for an office or campus behind one NAT address, where failed
//     logins are rare anyway.
//   - Register 10/1h. A family or a class signing up from one address
//     rarely needs more than 10 accounts an hour; a script creating accounts
//     (or probing which addresses are registered) gets one every 6 minutes.
func Defaults() Quotas {
	return Quotas{
		Account:   Quota{Count: 10, Period: time.Hour},
		AccountIP: Quota{Count: 5, Period: 15 * time.Minute},
		IP:        Quota{Count: 60, Period: 10 * time.Minute},
		Register:  Quota{Count: 10, Period: time.Hour},
	}
}
