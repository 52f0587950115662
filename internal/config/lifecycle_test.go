package config

import (
	"strings"
	"testing"
	"time"
)

// TestLifecycleSettings: the readiness bound and the two shutdown phases
// are read from their variables; a drain of 0 means none, while a zero
// ready or shutdown timeout is refused (it would fail every check or cut
// every in-flight request).
func TestLifecycleSettings(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LATCH_READY_TIMEOUT": "250ms", "LATCH_SHUTDOWN_DRAIN": "0", "LATCH_SHUTDOWN_TIMEOUT": "30s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadyTimeout != 250*time.Millisecond || c.ShutdownDrain != 0 || c.ShutdownTimeout != 30*time.Second {
		t.Errorf("ready %v, drain %v, shutdown %v; want 250ms, 0s, 30s", c.ReadyTimeout, c.ShutdownDrain, c.ShutdownTimeout)
	}

	for _, tc := range []struct{ name, value string }{
		{"LATCH_READY_TIMEOUT", "0s"},
		{"LATCH_READY_TIMEOUT", "soon"},
		{"LATCH_SHUTDOWN_DRAIN", "-1s"},
		{"LATCH_SHUTDOWN_DRAIN", "5"},
		{"LATCH_SHUTDOWN_TIMEOUT", "0"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.name: tc.value}))
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("Load: %v, want an error naming %s", err, tc.name)
			}
		})
	}
}
