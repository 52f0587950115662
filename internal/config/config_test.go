package config

import (
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/quota"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr: "127.0.0.1:8080", DatabaseURL: "sqlite:./data/latch.db", RedisKeyPrefix: "latch:",
		RedisTimeout: 500 * time.Millisecond, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
		API:          API{IdleTimeout: 720 * time.Hour, AbsoluteTimeout: 2160 * time.Hour},
		CookieSecure: true, LogLevel: slog.LevelInfo, ReauthWindow: 5 * time.Minute, MaxSessionsPerUser: 100,
		Throttle: quota.Quotas{
			Account:   quota.Quota{Count: 10, Period: time.Hour},
			AccountIP: quota.Quota{Count: 5, Period: 15 * time.Minute},
			IP:        quota.Quota{Count: 60, Period: 10 * time.Minute},
			Register:  quota.Quota{Count: 10, Period: time.Hour},
		},
		KnownIPWindow: 90 * 24 * time.Hour,
		Argon2:        Argon2{MemoryKiB: 19456, Time: 2, Parallelism: 1},
		ReadyTimeout:  time.Second, ShutdownDrain: 5 * time.Second, ShutdownTimeout: 15 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LATCH_ADDR": "0.0.0.0:9000", "LATCH_DATABASE_URL": "postgres://u@h/db",
		"LATCH_REDIS_URL": "redis://:pw@h:6379/2", "LATCH_IDLE_TIMEOUT": "5m",
		"LATCH_COOKIE_SECURE": "false", "LATCH_LOG_LEVEL": "debug",
		"LATCH_DATABASE_MAX_CONNS": "25", "LATCH_METRICS_ADDR": "127.0.0.1:9090",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseMaxConns != 25 || c.MetricsAddr != "127.0.0.1:9090" {
		t.Errorf("database max conns %d, metrics addr %q; want 25, 127.0.0.1:9090", c.DatabaseMaxConns, c.MetricsAddr)
	}
	if c.Addr != "0.0.0.0:9000" || c.IdleTimeout != 5*time.Minute || c.CookieSecure || c.LogLevel != slog.LevelDebug ||
		c.DatabaseURL != "postgres://u@h/db" {
		t.Errorf("got %+v", c)
	}
	if want := (Redis{URL: "redis://:pw@h:6379/2", Addr: "h:6379", Password: "pw", DB: 2}); c.Redis == nil || *c.Redis != want {
		t.Errorf("redis %+v, want %+v", c.Redis, want)
	}
}

func TestLoadInvalidNamesTheVariable(t *testing.T) {
	tests := []struct {
		name, key, value string
	}{
		{"duration", "LATCH_IDLE_TIMEOUT", "soon"},
		{"negative duration", "LATCH_ABSOLUTE_TIMEOUT", "-1h"},
		{"idle above absolute", "LATCH_IDLE_TIMEOUT", "13h"},
		{"remember idle above absolute", "LATCH_REMEMBER_IDLE_TIMEOUT", "1000h"},
		{"API idle timeout", "LATCH_API_IDLE_TIMEOUT", "30d"},
		{"API absolute timeout", "LATCH_API_ABSOLUTE_TIMEOUT", "0s"},
		{"API idle above absolute", "LATCH_API_IDLE_TIMEOUT", "3000h"},
		{"API CORS origin with a path", "LATCH_API_CORS_ORIGINS", "https://app.example.com/"},
		{"API CORS origin without a scheme", "LATCH_API_CORS_ORIGINS", "app.example.com"},
		{"API CORS wildcard", "LATCH_API_CORS_ORIGINS", "*"},
		{"API CORS origin with an empty port", "LATCH_API_CORS_ORIGINS", "https://app.example.com:"},
		{"API CORS origin with port 0", "LATCH_API_CORS_ORIGINS", "https://app.example.com:0"},
		{"API CORS origin with a port too high", "LATCH_API_CORS_ORIGINS", "https://app.example.com:70000"},
		{"API CORS origin of another scheme", "LATCH_API_CORS_ORIGINS", "ftp://app.example.com"},
		{"addr", "LATCH_ADDR", "8080"},
		{"database scheme", "LATCH_DATABASE_URL", "mysql://x"},
		{"sqlite without a path", "LATCH_DATABASE_URL", "sqlite:"},
		{"redis scheme", "LATCH_REDIS_URL", "http://localhost:6379"},
		{"redis database not a number", "LATCH_REDIS_URL", "redis://localhost:6379/zero"},
		{"redis database negative", "LATCH_REDIS_URL", "redis://localhost:6379/-1"},
		{"bool", "LATCH_COOKIE_SECURE", "maybe"},
		{"log level", "LATCH_LOG_LEVEL", "loud"},
		{"redis timeout", "LATCH_REDIS_TIMEOUT", "0s"},
		{"trusted proxies", "LATCH_TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip"},
		{"max sessions", "LATCH_MAX_SESSIONS_PER_USER", "-1"},
		{"reauth window", "LATCH_REAUTH_WINDOW", "forever"},
		{"throttle quota without a period", "LATCH_THROTTLE_ACCOUNT", "10"},
		{"throttle quota with a bad period", "LATCH_THROTTLE_ACCOUNT_IP", "5/fortnight"},
		{"throttle quota of zero", "LATCH_THROTTLE_IP", "0/1m"},
		{"throttle quota too fine", "LATCH_THROTTLE_REGISTER", "10/5ns"},
		{"known-IP window", "LATCH_THROTTLE_KNOWN_IP_WINDOW", "90d"},
		{"database max conns negative", "LATCH_DATABASE_MAX_CONNS", "-1"},
		{"database max conns too many", "LATCH_DATABASE_MAX_CONNS", "1001"},
		{"database max conns not a number", "LATCH_DATABASE_MAX_CONNS", "lots"},
		{"metrics addr", "LATCH_METRICS_ADDR", "9090"},
		{"metrics addr is the public one", "LATCH_METRICS_ADDR", "127.0.0.1:8080"},
		{"argon2 time with a suffix", "LATCH_ARGON2_TIME", "2x"},
		{"argon2 time with a fraction", "LATCH_ARGON2_TIME", "2.5"},
		{"argon2 time in hex", "LATCH_ARGON2_TIME", "0x10"},
		{"argon2 time with a sign", "LATCH_ARGON2_TIME", "+2"},
		{"argon2 time of zero", "LATCH_ARGON2_TIME", "0"},
		{"argon2 time too high", "LATCH_ARGON2_TIME", "101"},
		{"argon2 time negative", "LATCH_ARGON2_TIME", "-1"},
		{"argon2 time with inner space", "LATCH_ARGON2_TIME", "2 3"},
		{"argon2 memory with a unit", "LATCH_ARGON2_MEMORY", "64MiB"},
		{"argon2 memory in exponent form", "LATCH_ARGON2_MEMORY", "1e3"},
		{"argon2 memory with underscores", "LATCH_ARGON2_MEMORY", "19_456"},
		{"argon2 memory too low", "LATCH_ARGON2_MEMORY", "7"},
		{"argon2 memory too high", "LATCH_ARGON2_MEMORY", "1048577"},
		{"argon2 memory overflowing 64 bits", "LATCH_ARGON2_MEMORY", "99999999999999999999"},
		{"argon2 parallelism of zero", "LATCH_ARGON2_PARALLELISM", "0"},
		{"argon2 parallelism too high", "LATCH_ARGON2_PARALLELISM", "256"},
		{"argon2 parallelism with a suffix", "LATCH_ARGON2_PARALLELISM", "4 lanes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.key: tt.value}))
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

func TestArgon2(t *testing.T) {
	c, err := Load(env(map[string]string{"LATCH_ARGON2_MEMORY": " 65536 ", "LATCH_ARGON2_TIME": "3", "LATCH_ARGON2_PARALLELISM": "4"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Argon2{MemoryKiB: 65536, Time: 3, Parallelism: 4}); c.Argon2 != want {
		t.Errorf("Argon2 = %+v, want %+v", c.Argon2, want)
	}
	c, err = Load(env(map[string]string{"LATCH_ARGON2_MEMORY": "1048576", "LATCH_ARGON2_TIME": "100", "LATCH_ARGON2_PARALLELISM": "255"}))
	if err != nil {
		t.Fatalf("the largest values: %v", err)
	}
	if want := (Argon2{MemoryKiB: 1 << 20, Time: 100, Parallelism: 255}); c.Argon2 != want {
		t.Errorf("Argon2 = %+v, want %+v", c.Argon2, want)
	}

	// Less than 8 KiB per lane, and the message says the range.
	_, err = Load(env(map[string]string{"LATCH_ARGON2_MEMORY": "16", "LATCH_ARGON2_PARALLELISM": "4"}))
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Var != "LATCH_ARGON2_MEMORY" || !strings.Contains(err.Error(), "32 KiB") {
		t.Errorf("16 KiB for 4 lanes: err = %v, want LATCH_ARGON2_MEMORY needing 32 KiB", err)
	}
	_, err = Load(env(map[string]string{"LATCH_ARGON2_TIME": "2x"}))
	if err == nil || !strings.Contains(err.Error(), `LATCH_ARGON2_TIME="2x": must be a whole number from 1 to 100`) {
		t.Errorf("2x: err = %v, want the variable and its range", err)
	}
}

func TestTrustedProxiesAndSessionLimit(t *testing.T) {
	c, err := Load(env(map[string]string{"LATCH_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,", "LATCH_MAX_SESSIONS_PER_USER": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "10.0.0.0/8" || c.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
	if c.MaxSessionsPerUser != 3 {
		t.Errorf("MaxSessionsPerUser = %d", c.MaxSessionsPerUser)
	}
}

func TestThrottleQuotas(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LATCH_THROTTLE_ACCOUNT": " 3/1m ", "LATCH_THROTTLE_ACCOUNT_IP": "off", "LATCH_THROTTLE_IP": "OFF",
		"LATCH_THROTTLE_REGISTER": "2/1s", "LATCH_THROTTLE_KNOWN_IP_WINDOW": "24h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := quota.Quotas{
		Account:  quota.Quota{Count: 3, Period: time.Minute},
		Register: quota.Quota{Count: 2, Period: time.Second},
	}
	if c.Throttle != want || c.KnownIPWindow != 24*time.Hour {
		t.Errorf("Throttle = %+v, KnownIPWindow = %v; want %+v, 24h", c.Throttle, c.KnownIPWindow, want)
	}
	if !c.Throttle.IP.Off() || !c.Throttle.AccountIP.Off() {
		t.Errorf("off quotas are not Off: %+v", c.Throttle)
	}
}

func TestInvalidURLPasswordIsRedacted(t *testing.T) {
	_, err := Load(env(map[string]string{"LATCH_REDIS_URL": "http://user:hunter2@h:1"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v; want an error without the password", err)
	}
}
