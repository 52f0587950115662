package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestRedisCluster(t *testing.T) {
	c, err := Load(env(map[string]string{"LATCH_REDIS_CLUSTER": " 10.0.0.1:7000, 10.0.0.2:7001 ,", "LATCH_REDIS_PASSWORD": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.1:7000", "10.0.0.2:7001"}; !reflect.DeepEqual(c.RedisCluster, want) {
		t.Errorf("RedisCluster = %q, want %q", c.RedisCluster, want)
	}
	if c.Redis == nil || c.Redis.Password != "s3cret" || c.Redis.Addr != "" {
		t.Errorf("cluster mode: Redis = %+v, want no address and password s3cret", c.Redis)
	}
	if c, err := Load(env(nil)); err != nil || c.RedisCluster != nil {
		t.Errorf("default: RedisCluster = %q, err %v; want none", c.RedisCluster, err)
	}
}

func TestRedisClusterInvalidNamesTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		key  string
	}{
		{"not host:port", map[string]string{"LATCH_REDIS_CLUSTER": "10.0.0.1:7000,redis-b"}, "LATCH_REDIS_CLUSTER"},
		{"no host", map[string]string{"LATCH_REDIS_CLUSTER": ":7000"}, "LATCH_REDIS_CLUSTER"},
		{"only commas", map[string]string{"LATCH_REDIS_CLUSTER": ",,"}, "LATCH_REDIS_CLUSTER"},
		{"with a Redis URL", map[string]string{"LATCH_REDIS_CLUSTER": "10.0.0.1:7000", "LATCH_REDIS_URL": "redis://127.0.0.1:6379/0"}, "LATCH_REDIS_CLUSTER"},
		{"hash tag in the prefix", map[string]string{"LATCH_REDIS_KEY_PREFIX": "latch{a}:"}, "LATCH_REDIS_KEY_PREFIX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Var != tt.key {
				t.Fatalf("err = %v, want an InvalidError naming %s", err, tt.key)
			}
		})
	}
}
