package config

import (
	"slices"
	"testing"
	"time"
)

func TestAPIValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LATCH_API_IDLE_TIMEOUT": "24h", "LATCH_API_ABSOLUTE_TIMEOUT": "48h",
		"LATCH_API_CORS_ORIGINS": "https://app.example.com, http://localhost:5173",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.IdleTimeout != 24*time.Hour || c.API.AbsoluteTimeout != 48*time.Hour {
		t.Errorf("API timeouts %v, %v", c.API.IdleTimeout, c.API.AbsoluteTimeout)
	}
	if want := []string{"https://app.example.com", "http://localhost:5173"}; !slices.Equal(c.API.CORSOrigins, want) {
		t.Errorf("CORS origins %q, want %q", c.API.CORSOrigins, want)
	}
}

// TestAPICORSOriginsNormalised: origins that a browser's Origin header
// would never spell so (uppercase, a default port, leading zeros) are
// stored as it spells them, so that the exact match can succeed.
func TestAPICORSOriginsNormalised(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://a.com:80", "http://a.com"},
		{"https://A.com", "https://a.com"},
		{"HTTPS://App.Example.COM:443", "https://app.example.com"},
		{"https://a.com:8443", "https://a.com:8443"},
		{"http://a.com:443", "http://a.com:443"},
		{"http://localhost:05173", "http://localhost:5173"},
		{"http://[::1]:80", "http://[::1]"},
	} {
		c, err := Load(env(map[string]string{"LATCH_API_CORS_ORIGINS": tc.in}))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if want := []string{tc.want}; !slices.Equal(c.API.CORSOrigins, want) {
			t.Errorf("%s: CORS origins %q, want %q", tc.in, c.API.CORSOrigins, want)
		}
	}
}
