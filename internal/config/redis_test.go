package config

import (
	"strings"
	"testing"
)

// TestParseRedisURL: LATCH_REDIS_URL is taken apart once, as redigo's
// DialURL would read it (defaults, ACL user, lone password, TLS, database).
func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		name, raw string
		want      Redis
	}{
		{"host and port", "redis://127.0.0.1:6379", Redis{Addr: "127.0.0.1:6379"}},
		{"default port", "redis://cache", Redis{Addr: "cache:6379"}},
		{"database", "redis://h:7000/3", Redis{Addr: "h:7000", DB: 3}},
		{"slash only", "redis://h:7000/", Redis{Addr: "h:7000"}},
		{"password only", "redis://:s3cret@h:6379/1", Redis{Addr: "h:6379", Password: "s3cret", DB: 1}},
		{"acl user", "redis://ada:s3cret@h:6379", Redis{Addr: "h:6379", Username: "ada", Password: "s3cret"}},
		{"lone user is the password", "redis://s3cret@h", Redis{Addr: "h:6379", Password: "s3cret"}},
		{"tls", "rediss://h:6380", Redis{Addr: "h:6380", TLS: true}},
		{"ipv6", "redis://[::1]:6379", Redis{Addr: "[::1]:6379"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRedisURL(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.URL = tt.raw
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// TestParseRedisURLRefuses: a bad URL is refused at start-up with a
// message that never repeats the password.
func TestParseRedisURLRefuses(t *testing.T) {
	for _, raw := range []string{"", "localhost:6379", "http://h:6379", "redis://", "redis://:pw@h/db1", "redis://:pw@h/1/2", "redis:opaque"} {
		_, err := ParseRedisURL(raw)
		if err == nil {
			t.Errorf("%q accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: error %q repeats the password", raw, err)
		}
	}
}

// TestRedisRedacted: the form for logs hides the password, also one
// given alone as the user name.
func TestRedisRedacted(t *testing.T) {
	for _, raw := range []string{"redis://:s3cret@h:6379/0", "redis://ada:s3cret@h", "redis://s3cret@h"} {
		r, err := ParseRedisURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Redacted(); strings.Contains(got, "s3cret") || !strings.Contains(got, "h") {
			t.Errorf("%q redacted as %q", raw, got)
		}
	}
}
