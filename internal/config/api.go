package config

import (
	"net/url"
	"strings"
	"time"
)

// API configures the JSON API for native apps (/api/v1, issue 10).
type API struct {
	// IdleTimeout ends an app session after this long without a request
	// (LATCH_API_IDLE_TIMEOUT, default 720h).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends an app session this long after sign-in
	// (LATCH_API_ABSOLUTE_TIMEOUT, default 2160h).
	AbsoluteTimeout time.Duration
	// CORSOrigins are the web origins allowed to call the API from a
	// browser (LATCH_API_CORS_ORIGINS: comma-separated origins such as
	// https://app.example.com, matched exactly; default none: CORS off).
	CORSOrigins []string
}

// loadAPI reads the LATCH_API_* variables into c.API and returns the
// problems found (each an *InvalidError).
func loadAPI(get func(name, def string) string, c *Config) []error {
	var errs []error
	duration := func(name, def string) time.Duration {
		raw := get(name, def)
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			errs = append(errs, &InvalidError{name, raw, "must be a Go duration greater than zero, such as 720h"})
		}
		return d
	}
	c.API.IdleTimeout = duration("LATCH_API_IDLE_TIMEOUT", "720h")
	c.API.AbsoluteTimeout = duration("LATCH_API_ABSOLUTE_TIMEOUT", "2160h")
	if c.API.AbsoluteTimeout > 0 && c.API.IdleTimeout > c.API.AbsoluteTimeout {
		errs = append(errs, &InvalidError{"LATCH_API_IDLE_TIMEOUT", c.API.IdleTimeout.String(), "must not exceed LATCH_API_ABSOLUTE_TIMEOUT (" + c.API.AbsoluteTimeout.String() + "; the idle timeout's default is 720h: lower LATCH_API_IDLE_TIMEOUT too)"})
	}
	if raw := get("LATCH_API_CORS_ORIGINS", ""); raw != "" {
		for _, o := range splitList(raw) {
			if !validOrigin(o) {
				errs = append(errs, &InvalidError{"LATCH_API_CORS_ORIGINS", raw,
					"must be comma-separated origins such as https://app.example.com (scheme, host and optional port; no path)"})
				break
			}
			c.API.CORSOrigins = append(c.API.CORSOrigins, o)
		}
	}
	return errs
}

// validOrigin reports whether o is a serialised web origin (RFC 6454 §6.2):
// http or https, a host, an optional port, nothing else.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && !strings.HasSuffix(o, "/")
}
