package clientnet

import "testing"

func TestOf(t *testing.T) {
	tests := []struct {
		ip, want string
		ok       bool
	}{
		{"198.51.100.7", "198.51.100.7", true},
		{" 198.51.100.7 ", "198.51.100.7", true},
		{"::ffff:198.51.100.7", "198.51.100.7", true},
		{"2001:db8:1::10", "2001:db8:1::/64", true},
		{"2001:db8:1::11", "2001:db8:1::/64", true},
		{"2001:db8:1:0:ffff:ffff:ffff:ffff", "2001:db8:1::/64", true},
		{"2001:db8:1:1::10", "2001:db8:1:1::/64", true},
		{"fe80::1%eth0", "fe80::/64", true},
		// A zone is client-chosen text: it never makes another network.
		{"198.51.100.7%z1", "198.51.100.7", true},
		{"198.51.100.7%q10", "198.51.100.7", true},
		{"::ffff:198.51.100.7%z1", "198.51.100.7", true},
		{"2001:db8:1::10%z2", "2001:db8:1::/64", true},
		{"198.51.100.7%", "198.51.100.7", true},
		{"%z1", "", false},
		{"::1", "::/64", true},
		{"", "", false},
		{"203.0.113.7:443", "", false},
		{"<script>", "", false},
	}
	for _, tt := range tests {
		got, ok := Of(tt.ip)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Of(%q) = %q, %v; want %q, %v", tt.ip, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAddr(t *testing.T) {
	tests := []struct {
		ip, want string
		ok       bool
	}{
		{"198.51.100.7", "198.51.100.7", true},
		{" 198.51.100.7 ", "198.51.100.7", true},
		{"198.51.100.7%q10", "198.51.100.7", true},
		{"::ffff:198.51.100.7", "198.51.100.7", true},
		{"::ffff:198.51.100.7%z1", "198.51.100.7", true},
		{"2001:DB8::10%eth0", "2001:db8::10", true},
		{"fe80::1%eth0", "fe80::1", true},
		{"", "", false},
		{"%z1", "", false},
		{"203.0.113.7:443", "", false},
		{"<script>", "", false},
	}
	for _, tt := range tests {
		got, ok := Addr(tt.ip)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Addr(%q) = %q, %v; want %q, %v", tt.ip, got, ok, tt.want, tt.ok)
		}
	}
}
