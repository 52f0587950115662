package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Redis is LATCH_REDIS_URL taken apart, once, at start-up: what a Redis
// pool needs to dial (cmd/latch's openRedis). The URL form is the IANA
// provisional "redis" scheme, read as redigo's DialURL reads it:
//
//	redis://[[user]:password@]host[:port][/db]   plain TCP
//	rediss://…                                   TLS
//
// host defaults to localhost and port to 6379; a lone user name without
// a colon is a password (redis-cli's "redis://secret@host" form).
type Redis struct {
	// URL is the value as given. It may hold the password: never log it
	// (Redacted is for logs and error messages).
	URL string
	// Addr is host:port, e.g. "127.0.0.1:6379".
	Addr string
	// Username and Password authenticate (AUTH [user] password); both
	// empty means no AUTH. Username is set only with Redis 6 ACLs.
	Username, Password string
	// DB is the logical database number (SELECT), 0 to 1000000.
	DB int
	// TLS is true for rediss:// URLs.
	TLS bool
}

// Redacted returns the URL with its password (also one given alone, as
// "redis://secret@host") replaced by "xxxxx", for logs.
func (r *Redis) Redacted() string { return redactRedis(r.URL) }

// redactRedis is redact for Redis URLs, where a user name without a
// password is the password.
func redactRedis(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); !ok {
			u.User = url.UserPassword("", "xxxxx")
		}
	}
	return u.Redacted()
}

// ParseRedisURL reads a LATCH_REDIS_URL value. The error says in plain
// words what is wrong (it never repeats the URL, which may hold a
// password).
func ParseRedisURL(raw string) (*Redis, error) {
	const form = "must look like redis://[user:pass@]host:port/db"
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" || u.Opaque != "" {
		return nil, errors.New(form)
	}
	r := &Redis{URL: raw, TLS: u.Scheme == "rediss"}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil { // no port
		host, port = u.Host, "6379"
	}
	if host == "" {
		host = "localhost"
	}
	r.Addr = net.JoinHostPort(strings.Trim(host, "[]"), port)
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			r.Username, r.Password = u.User.Username(), pw
		} else {
			r.Password = u.User.Username()
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || n > 1_000_000 || strings.Contains(db, "/") {
			return nil, fmt.Errorf("the database after the last / must be a whole number, e.g. redis://127.0.0.1:6379/0 (%s)", form)
		}
		r.DB = n
	}
	return r, nil
}
