package config

import (
	"net/url"
	"strconv"
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
	// https://app.example.com, matched exactly after normalOrigin lowercased
	// the scheme and host and dropped a default port; default none: CORS off).
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
			origin, ok := normalOrigin(o)
			if !ok {
				errs = append(errs, &InvalidError{"LATCH_API_CORS_ORIGINS", raw,
					"must be comma-separated origins such as https://app.example.com (scheme, host and optional port; no path)"})
				break
			}
			c.API.CORSOrigins = append(c.API.CORSOrigins, origin)
		}
	}
	return errs
}

// normalOrigin returns o as a browser serialises it in the Origin header
// (RFC 6454 §6.2, the URL standard's origin serialisation), so that an
// exact match with the header can succeed: the scheme and host lowercased
// (RFC 3986 §3.1, §3.2.2: case-insensitive) and the scheme's default port
// (80 for http, 443 for https) dropped. ok is false unless o is http or
// https, a host, an optional port, and nothing else.
func normalOrigin(o string) (origin string, ok bool) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		strings.HasSuffix(o, "/") || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	if strings.Contains(host, ":") { // an IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", false
		}
		port = strconv.Itoa(n) // as the Origin header writes it: no leading zeros
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}
