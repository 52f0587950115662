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
