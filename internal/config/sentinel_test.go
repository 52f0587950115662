package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRedisSentinelValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LATCH_REDIS_SENTINELS":         " 10.0.0.1:26379, sentinel-b:26380 ,",
		"LATCH_REDIS_SENTINEL_MASTER":   "latch",
		"LATCH_REDIS_SENTINEL_PASSWORD": "s3ntinel",
		"LATCH_REDIS_URL":               "redis://:data@/2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis == nil || c.Redis.Addr != "" || c.Redis.Password != "data" || c.Redis.DB != 2 {
		t.Errorf("sentinel-mode URL read as %+v, want no address, password data, db 2", c.Redis)
	}
	want := RedisSentinel{Addrs: []string{"10.0.0.1:26379", "sentinel-b:26380"}, Master: "latch", Password: "s3ntinel"}
	if !reflect.DeepEqual(c.RedisSentinel, want) || !c.RedisSentinel.Enabled() || !c.UsesRedis() {
		t.Errorf("sentinel = %+v (enabled %v, uses redis %v), want %+v", c.RedisSentinel, c.RedisSentinel.Enabled(), c.UsesRedis(), want)
	}

	// Sentinel mode needs no LATCH_REDIS_URL; the data password may come
	// from LATCH_REDIS_PASSWORD.
	c, err = Load(env(map[string]string{
		"LATCH_REDIS_SENTINELS": "127.0.0.1:26379", "LATCH_REDIS_SENTINEL_MASTER": "m", "LATCH_REDIS_PASSWORD": "pw",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.UsesRedis() || c.Redis.URL != "" || c.Redis.Addr != "" || c.Redis.Password != "pw" {
		t.Errorf("uses redis %v, url %q, addr %q, password set %v", c.UsesRedis(), c.Redis.URL, c.Redis.Addr, c.Redis.Password == "pw")
	}

	c, err = Load(env(nil))
	if err != nil || c.UsesRedis() || c.RedisSentinel.Enabled() {
		t.Errorf("defaults: err %v, uses redis %v, sentinel %v", err, c.UsesRedis(), c.RedisSentinel.Enabled())
	}
}

func TestRedisSentinelInvalidNamesTheVariable(t *testing.T) {
	sentinel := map[string]string{"LATCH_REDIS_SENTINELS": "127.0.0.1:26379", "LATCH_REDIS_SENTINEL_MASTER": "m"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range sentinel {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		key  string
	}{
		{"address without a port", with("LATCH_REDIS_SENTINELS", "10.0.0.1"), "LATCH_REDIS_SENTINELS"},
		{"port not a number", with("LATCH_REDIS_SENTINELS", "10.0.0.1:26379,h:sentinel"), "LATCH_REDIS_SENTINELS"},
		{"port out of range", with("LATCH_REDIS_SENTINELS", "h:70000"), "LATCH_REDIS_SENTINELS"},
		{"no host", with("LATCH_REDIS_SENTINELS", ":26379"), "LATCH_REDIS_SENTINELS"},
		{"only commas", with("LATCH_REDIS_SENTINELS", ",,"), "LATCH_REDIS_SENTINELS"},
		{"no master name", with("LATCH_REDIS_SENTINEL_MASTER", ""), "LATCH_REDIS_SENTINEL_MASTER"},
		{"master without sentinels", map[string]string{"LATCH_REDIS_SENTINEL_MASTER": "m"}, "LATCH_REDIS_SENTINEL_MASTER"},
		{"sentinel password without sentinels", map[string]string{"LATCH_REDIS_SENTINEL_PASSWORD": "x"}, "LATCH_REDIS_SENTINEL_PASSWORD"},
		{"url with a host", with("LATCH_REDIS_URL", "redis://:pw@10.0.0.9:6379/0"), "LATCH_REDIS_URL"},
		{"url scheme", with("LATCH_REDIS_URL", "http:///0"), "LATCH_REDIS_URL"},
		{"url database", with("LATCH_REDIS_URL", "redis:///zero"), "LATCH_REDIS_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Var != tt.key {
				t.Fatalf("err = %v, want an InvalidError naming %s", err, tt.key)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("message %q does not name %s", err, tt.key)
			}
		})
	}
}

func TestRedisSentinelPasswordsAreNotInErrors(t *testing.T) {
	_, err := Load(env(map[string]string{
		"LATCH_REDIS_SENTINEL_PASSWORD": "hunter2",
		"LATCH_REDIS_SENTINELS":         "127.0.0.1:26379", "LATCH_REDIS_SENTINEL_MASTER": "m",
		"LATCH_REDIS_URL": "redis://:hunter3@h:6379/0",
	}))
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "hunter3") {
		t.Fatalf("err = %v; want an error without the passwords", err)
	}
	_, err = Load(env(map[string]string{"LATCH_REDIS_SENTINEL_PASSWORD": "hunter2"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v; want an error without the password", err)
	}
}

// TestRedisPasswordFillsTheURL: LATCH_REDIS_PASSWORD is the data password
// when LATCH_REDIS_URL has none; the URL's own password wins; without any
// Redis it is refused, naming the variable and not the password.
func TestRedisPasswordFillsTheURL(t *testing.T) {
	tests := []struct{ url, password, want string }{
		{"redis://127.0.0.1:6379/0", "pw", "pw"},
		{"redis://:own@127.0.0.1:6379/0", "pw", "own"},
		{"redis://user@127.0.0.1:6379/0", "", "user"}, // a lone name is the password
		{"rediss://h:6380/1", "p@ss word", "p@ss word"},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"LATCH_REDIS_URL": tt.url, "LATCH_REDIS_PASSWORD": tt.password}))
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if c.Redis.Password != tt.want {
			t.Errorf("%s with LATCH_REDIS_PASSWORD %q: password %q, want %q", tt.url, tt.password, c.Redis.Password, tt.want)
		}
	}
	_, err := Load(env(map[string]string{"LATCH_REDIS_PASSWORD": "secret-pw"}))
	if err == nil || !strings.Contains(err.Error(), "LATCH_REDIS_PASSWORD") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("LATCH_REDIS_PASSWORD without a Redis: %v, want an error naming the variable, not the password", err)
	}
}
