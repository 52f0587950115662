package throttle

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string
		same   bool
		nameOf func(string) string
	}{
		{"email case and spaces", " Bob@Example.com ", "bob@example.com", true, accountName},
		{"different emails", "bob@example.com", "bob@example.org", false, accountName},
		{"invalid address still counted", "not an email", "NOT AN EMAIL", true, accountName},
		{"IPv4", "192.0.2.1", "192.0.2.1", true, networkName},
		{"IPv4 neighbours", "192.0.2.1", "192.0.2.2", false, networkName},
		{"IPv4-mapped IPv6", "::ffff:192.0.2.1", "192.0.2.1", true, networkName},
		{"IPv6 same /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true, networkName},
		{"IPv6 other /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false, networkName},
		{"IPv6 zone dropped", "fe80::1%eth0", "fe80::2", true, networkName},
		{"IPv4 zone dropped", "10.3.3.3%z1", "10.3.3.3", true, networkName},
		{"IPv4 zones alike", "10.3.3.3%z1", "10.3.3.3%q10", true, networkName},
		{"IPv4-mapped with zone", "::ffff:10.3.3.3%z1", "10.3.3.3", true, networkName},
		{"junk shares one name", "not an IP <script>", "other junk", true, networkName},
		{"junk is no address", "junk", "10.3.3.3", false, networkName},
	}
	for _, tt := range tests {
		if got := tt.nameOf(tt.a) == tt.nameOf(tt.b); got != tt.same {
			t.Errorf("%s: name(%q) = %q, name(%q) = %q; same = %v, want %v",
				tt.name, tt.a, tt.nameOf(tt.a), tt.b, tt.nameOf(tt.b), got, tt.same)
		}
	}
	if got := networkName("not an IP <script>"); strings.ContainsAny(got, " <>") {
		t.Errorf("networkName of junk = %q, want no client text in it", got)
	}
}
