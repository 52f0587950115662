package redisconn

import "testing"

// TestFirstKey: scripts are routed by their first key, not by their SHA
// (redigo's Script passes numkeys as an int: a regression made every
// EVALSHA go to a random node and pay a MOVED).
func TestFirstKey(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		args []any
		key  string
		ok   bool
	}{
		{"evalsha, int numkeys", "EVALSHA", []any{"abc123", 1, "latch:{7}:s:x", "arg"}, "latch:{7}:s:x", true},
		{"eval, int64 numkeys", "eval", []any{"return 1", int64(2), "k1", "k2"}, "k1", true},
		{"evalsha without keys", "EVALSHA", []any{"abc123", 0, "arg"}, "", false},
		{"get", "GET", []any{"k"}, "k", true},
		{"ping", "PING", nil, "", false},
		{"wait", "WAIT", []any{1, 100}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, ok := firstKey(tt.cmd, tt.args)
			if key != tt.key || ok != tt.ok {
				t.Errorf("firstKey(%s %v) = %q, %v; want %q, %v", tt.cmd, tt.args, key, ok, tt.key, tt.ok)
			}
		})
	}
}
