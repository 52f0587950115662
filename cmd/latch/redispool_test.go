package main

import "testing"

func TestWithPassword(t *testing.T) {
	tests := []struct{ url, password, want string }{
		{"redis://127.0.0.1:6379/0", "", "redis://127.0.0.1:6379/0"},
		{"redis://127.0.0.1:6379/0", "pw", "redis://:pw@127.0.0.1:6379/0"},
		{"redis://:own@127.0.0.1:6379/0", "pw", "redis://:own@127.0.0.1:6379/0"}, // the URL's own password wins
		{"redis://user@127.0.0.1:6379/0", "pw", "redis://user:pw@127.0.0.1:6379/0"},
		{"rediss://h:6380/1", "p@ss word", "rediss://:p%40ss%20word@h:6380/1"},
	}
	for _, tt := range tests {
		if got := withPassword(tt.url, tt.password); got != tt.want {
			t.Errorf("withPassword(%q, %q) = %q, want %q", tt.url, tt.password, got, tt.want)
		}
	}
}
