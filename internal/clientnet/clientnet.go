// Package clientnet says which network a client IP address counts as, the
// one granularity Latch uses wherever it recognises a client by where it
// comes from: the login throttle's keys (internal/throttle), the owner's
// known networks exempt from the per-account quota, and new-device
// detection (internal/server). It imports nothing of Latch.
package clientnet

import (
	"net/netip"
	"strings"
)

// IPv6PrefixBits is the IPv6 prefix length one client counts as: a /64 is
// the smallest prefix an IPv6 subscriber is normally given (RFC 6177,
// RFC 7421), inside which a device picks and rotates its own addresses
// (RFC 8981 temporary "privacy" addresses change at least daily).
const IPv6PrefixBits = 64

// Addr returns ip (an address as text: a client IP the server was given)
// in the one form Latch records and counts it in: white space and any zone
// ("%eth0", "%z1": RFC 4007 §11) dropped, an IPv4-mapped IPv6 address
// unmapped ("::ffff:198.51.100.7" and "::ffff:198.51.100.7%z1" →
// "198.51.100.7"), as netip.Addr.String writes it. The zone is stripped as
// text before parsing because netip.ParseAddr refuses a zone on an IPv4
// address ("198.51.100.7%z1", what realclientip-go makes of a mapped
// address with a zone), and a zone is text the client chooses: kept, it
// would make one address look like many. ok is false (and addr "") when
// what is left is not an IP address.
func Addr(ip string) (addr string, ok bool) {
	a, ok := parse(ip)
	if !ok {
		return "", false
	}
	return a.String(), true
}

// parse is Addr as a netip.Addr (zone dropped, unmapped).
func parse(ip string) (netip.Addr, bool) {
	ip = strings.TrimSpace(ip)
	if i := strings.IndexByte(ip, '%'); i >= 0 {
		ip = ip[:i]
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Of returns the network ip (an address as text, e.g. the client IP the
// server parsed) counts as, after Addr's clean-up (zone dropped, mapped
// IPv4 unmapped):
//
//   - an IPv4 address: the address itself ("198.51.100.7",
//     "198.51.100.7%z1");
//   - an IPv4-mapped IPv6 address: the IPv4 address ("::ffff:198.51.100.7"
//     → "198.51.100.7");
//   - any other IPv6 address: its /64 prefix ("2001:db8:1:2::10" →
//     "2001:db8:1:2::/64").
//
// ok is false (and network "") when ip is not an IP address. Two addresses
// count as the same client exactly when Of returns the same network.
//
// IPv4 counts per address because one IPv4 address is commonly one home or
// one office NAT, and neighbouring addresses are unrelated customers; IPv6
// counts per /64 because one subscriber holds the whole /64.
func Of(ip string) (network string, ok bool) {
	a, ok := parse(ip)
	if !ok {
		return "", false
	}
	if a.Is4() {
		return a.String(), true
	}
	p, err := a.Prefix(IPv6PrefixBits)
	if err != nil {
		return "", false
	}
	return p.String(), true
}
