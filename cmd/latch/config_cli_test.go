package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/password"
)

// TestBadArgon2SettingStopsEveryCommand: a LATCH_ARGON2_* value that is
// not a whole number in range ("2x" used to be read as 2) stops every
// command that loads the configuration with exit status 2 and a message
// naming the variable, before the database is opened.
func TestBadArgon2SettingStopsEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"migrate"},
		{"serve"},
		{"sessions", "list"},
		{"user", "create", "--email", "carol@example.com", "--password-stdin"},
		{"user", "disable", "bob@example.com"},
		{"user", "set-role", "bob@example.com", "admin"},
		{"user", "reset-link", "bob@example.com"},
	} {
		for _, bad := range []struct{ name, value string }{
			{"LATCH_ARGON2_TIME", "2x"},
			{"LATCH_ARGON2_MEMORY", "0x10"},
			{"LATCH_ARGON2_PARALLELISM", "2.5"},
		} {
			dbPath := filepath.Join(t.TempDir(), "latch.db")
			env := cliEnv{"LATCH_DATABASE_URL": "sqlite:" + dbPath, bad.name: bad.value}
			out := env.run(t, "an unguessable passphrase of carol\n", args...)
			if out.code != exitUsage || !strings.Contains(out.stderr, bad.name+`="`+bad.value+`"`) {
				t.Errorf("latch %s with %s=%s: exit %d, stderr %q; want exit 2 naming the variable",
					strings.Join(args, " "), bad.name, bad.value, out.code, out.stderr)
			}
			if _, err := os.Stat(dbPath); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("latch %s with %s=%s opened the database: %v", strings.Join(args, " "), bad.name, bad.value, err)
			}
		}
	}
}

// TestArgon2RangesMatchPassword: the ranges config accepts are the limits
// internal/password holds hashes to, at both ends, so no accepted setting
// fails later and no setting password accepts is refused.
func TestArgon2RangesMatchPassword(t *testing.T) {
	if config.Argon2MaxMemoryKiB != password.MaxMemory || config.Argon2MaxTime != password.MaxIterations {
		t.Errorf("config's maxima %d KiB, %d passes; password's %d KiB, %d passes",
			config.Argon2MaxMemoryKiB, config.Argon2MaxTime, password.MaxMemory, password.MaxIterations)
	}
	for _, a := range []config.Argon2{
		{MemoryKiB: config.Argon2MinMemoryKiB, Time: 1, Parallelism: 1},
		{MemoryKiB: config.Argon2MaxMemoryKiB, Time: config.Argon2MaxTime, Parallelism: config.Argon2MaxParallelism},
		{MemoryKiB: 8 * config.Argon2MaxParallelism, Time: 1, Parallelism: config.Argon2MaxParallelism},
	} {
		p, err := passwordParams(a)
		if err != nil {
			t.Errorf("passwordParams(%+v): %v", a, err)
			continue
		}
		if p.Memory != a.MemoryKiB || p.Iterations != a.Time || p.Parallelism != a.Parallelism {
			t.Errorf("passwordParams(%+v) = %+v", a, p)
		}
	}
	def := password.DefaultParams()
	c, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Argon2.MemoryKiB != def.Memory || c.Argon2.Time != def.Iterations || c.Argon2.Parallelism != def.Parallelism {
		t.Errorf("config's default %+v differs from password.DefaultParams %+v", c.Argon2, def)
	}
}

// TestVersionHelp: "latch version --help" prints a usage line (exit 0),
// not the version, as --help does on every command; plain "latch version"
// still prints the version.
func TestVersionHelp(t *testing.T) {
	for _, flag := range []string{"--help", "-h"} {
		out := cliEnv{}.run(t, "", "version", flag)
		if out.code != exitOK || !strings.Contains(out.stderr, "Usage: latch version") || strings.Contains(out.stdout, "latch "+version) {
			t.Errorf("latch version %s: exit %d, stdout %q, stderr %q; want exit 0 and a usage line", flag, out.code, out.stdout, out.stderr)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if out := (cliEnv{}).run(t, "", args...); out.code != exitOK || out.stdout != "latch "+version+"\n" {
			t.Errorf("latch %s: exit %d, stdout %q; want the version", args[0], out.code, out.stdout)
		}
	}
	if out := (cliEnv{}).run(t, "", "version", "extra"); out.code != exitUsage {
		t.Errorf("latch version extra: exit %d, want 2", out.code)
	}
}
