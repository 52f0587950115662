package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fastParams keeps tests quick; the production defaults are exercised by
// TestDefaultParamsRoundTrip and BenchmarkHash.
var fastParams = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// newTestHasher returns a Hasher with cheap parameters and 4 slots.
func newTestHasher(t testing.TB) *Hasher {
	t.Helper()
	return NewHasher(fastParams, 4, 0)
}

func TestDefaultParams(t *testing.T) {
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if got := DefaultParams(); got != want {
		t.Errorf("DefaultParams() = %+v, want %+v", got, want)
	}
}

func TestDefaultParamsRoundTrip(t *testing.T) {
	h := NewHasher(Params{}, 0, 0)
	if got := h.Params(); got != DefaultParams() {
		t.Fatalf("NewHasher(Params{}).Params() = %+v, want defaults", got)
	}
	encoded, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want prefix $argon2id$v=19$m=19456,t=2,p=1$", encoded)
	}
	parts := strings.Split(encoded, "$")
	if len(parts[4]) != 22 || len(parts[5]) != 43 { // 16 and 32 bytes, unpadded base64
		t.Errorf("salt/hash encoded lengths = %d/%d, want 22/43", len(parts[4]), len(parts[5]))
	}
	ok, err := h.Verify(t.Context(), "correct horse battery staple", encoded)
	if err != nil || !ok {
		t.Errorf("Verify(right password) = %v, %v; want true, nil", ok, err)
	}
}

func TestHashVerify(t *testing.T) {
	h := newTestHasher(t)
	tests := []struct {
		name     string
		password string
		attempt  string
		want     bool
	}{
		{name: "match", password: "correct horse battery staple", attempt: "correct horse battery staple", want: true},
		{name: "wrong password", password: "correct horse battery staple", attempt: "correct horse battery stapler", want: false},
		{name: "case matters", password: "Password1234", attempt: "password1234", want: false},
		{name: "spaces are not trimmed", password: " secret secret ", attempt: "secret secret", want: false},
		{name: "unicode", password: "пароль-🔑-密码-contraseña", attempt: "пароль-🔑-密码-contraseña", want: true},
		{name: "empty matches empty", password: "", attempt: "", want: true},
		{name: "long", password: strings.Repeat("x", 1024), attempt: strings.Repeat("x", 1023) + "y", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(t.Context(), tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			got, err := h.Verify(t.Context(), tt.attempt, encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify(%q) against hash of %q = %v, want %v", tt.attempt, tt.password, got, tt.want)
			}
		})
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := newTestHasher(t)
	a, err := h.Hash(t.Context(), "same password here")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(t.Context(), "same password here")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of the same password are equal: %q", a)
	}
}

// TestVerifyReferenceVectors checks interoperability with hashes made by
// other implementations.
func TestVerifyReferenceVectors(t *testing.T) {
	h := newTestHasher(t)
	tests := []struct {
		name     string
		encoded  string
		password string
		want     bool
	}{
		{
			// phc-winner-argon2 src/test.c and README.
			name:     "argon2 reference implementation",
			encoded:  "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
			password: "password",
			want:     true,
		},
		{
			name:     "argon2 reference implementation, wrong password",
			encoded:  "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
			password: "sassword",
			want:     false,
		},
		{
			// PHP manual, password_verify example.
			name:     "php $2y$",
			encoded:  "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
			password: "rasmuslerdorf",
			want:     true,
		},
		{
			name:     "php $2y$, wrong password",
			encoded:  "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
			password: "rasmuslerdorF",
			want:     false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Verify(t.Context(), tt.password, tt.encoded)
			if err != nil || got != tt.want {
				t.Errorf("Verify = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

func TestVerifyBcrypt(t *testing.T) {
	h := newTestHasher(t)
	const pw = "imported password"
	raw, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)[len("$2a$"):]
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(prefix, func(t *testing.T) {
			encoded := prefix + body
			if ok, err := h.Verify(t.Context(), pw, encoded); err != nil || !ok {
				t.Errorf("Verify(right) = %v, %v; want true, nil", ok, err)
			}
			if ok, err := h.Verify(t.Context(), pw+"x", encoded); err != nil || ok {
				t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
			}
			if !h.NeedsRehash(encoded) {
				t.Error("NeedsRehash(bcrypt) = false, want true")
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t)
	good, err := h.Hash(t.Context(), "some password")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, hash
	salt, key := parts[4], parts[5]
	join := func(p ...string) string { return strings.Join(p, "$") }
	bcryptOK, err := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bc := string(bcryptOK)

	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", "some password"},
		{"dollar only", "$"},
		{"argon2i", join("", "argon2i", "v=19", "m=64,t=1,p=1", salt, key)},
		{"argon2d", join("", "argon2d", "v=19", "m=64,t=1,p=1", salt, key)},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"},
		{"no version", join("", "argon2id", "m=64,t=1,p=1", salt, key)},
		{"version 16", join("", "argon2id", "v=16", "m=64,t=1,p=1", salt, key)},
		{"params reordered", join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, key)},
		{"params missing", join("", "argon2id", "v=19", "m=64,t=1", salt, key)},
		{"extra param", join("", "argon2id", "v=19", "m=64,t=1,p=1,keyid=x", salt, key)},
		{"empty param", join("", "argon2id", "v=19", "m=,t=1,p=1", salt, key)},
		{"negative", join("", "argon2id", "v=19", "m=-64,t=1,p=1", salt, key)},
		{"plus sign", join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, key)},
		{"hex", join("", "argon2id", "v=19", "m=0x40,t=1,p=1", salt, key)},
		{"uint32 overflow", join("", "argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key)},
		{"memory over 1 GiB", join("", "argon2id", "v=19", "m=1048577,t=1,p=1", salt, key)},
		{"memory below 8 per lane", join("", "argon2id", "v=19", "m=15,t=1,p=2", salt, key)},
		{"iterations zero", join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, key)},
		{"iterations over 100", join("", "argon2id", "v=19", "m=64,t=101,p=1", salt, key)},
		{"parallelism zero", join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, key)},
		{"parallelism over 255", join("", "argon2id", "v=19", "m=4096,t=1,p=256", salt, key)},
		{"salt empty", join("", "argon2id", "v=19", "m=64,t=1,p=1", "", key)},
		{"salt 7 bytes", join("", "argon2id", "v=19", "m=64,t=1,p=1", "YWJjZGVmZw", key)},
		{"salt 65 bytes", join("", "argon2id", "v=19", "m=64,t=1,p=1", strings.Repeat("A", 87), key)},
		{"salt padded", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt+"==", key)},
		{"salt url alphabet", join("", "argon2id", "v=19", "m=64,t=1,p=1", "____________________AA", key)},
		{"salt non-canonical", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt[:21]+"B", key)},
		{"hash empty", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
		{"hash 15 bytes", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "AAAAAAAAAAAAAAAAAAAA")},
		{"hash 65 bytes", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, strings.Repeat("A", 87))},
		{"trailing field", good + "$"},
		{"leading garbage", "x" + good},
		{"trailing space", good + " "},
		{"too long", good + strings.Repeat("A", 600)},
		{"bcrypt truncated", bc[:59]},
		{"bcrypt too long", bc + "A"},
		{"bcrypt cost 3", bc[:4] + "03" + bc[6:]},
		{"bcrypt cost 17", bc[:4] + "17" + bc[6:]},
		{"bcrypt cost 99", bc[:4] + "99" + bc[6:]},
		{"bcrypt cost sign", bc[:4] + "+9" + bc[6:]},
		{"bcrypt missing separator", bc[:6] + "x" + bc[7:]},
		{"bcrypt bad alphabet", bc[:7] + "+" + bc[8:]},
		{"bcrypt $2x$", "$2x$" + bc[4:]},
		{"bcrypt $2$", "$2$" + bc[4:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(t.Context(), "some password", tt.encoded)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", tt.encoded, ok, err)
			}
			if !h.NeedsRehash(tt.encoded) {
				t.Errorf("NeedsRehash(%q) = false, want true", tt.encoded)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	h := newTestHasher(t)
	current, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	other := func(p Params) string {
		t.Helper()
		s, err := NewHasher(p, 1, 0).Hash(t.Context(), "pw")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(change func(*Params)) Params {
		p := fastParams
		change(&p)
		return p
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"current params", current, false},
		{"more memory", other(with(func(p *Params) { p.Memory = 128 })), true},
		{"less memory", other(with(func(p *Params) { p.Memory = 32 })), true},
		{"more iterations", other(with(func(p *Params) { p.Iterations = 2 })), true},
		{"more lanes", other(with(func(p *Params) { p.Parallelism = 2 })), true},
		{"longer salt", other(with(func(p *Params) { p.SaltLen = 32 })), true},
		{"shorter key", other(with(func(p *Params) { p.KeyLen = 16 })), true},
		{"bcrypt", string(bc), true},
		{"garbage", "not a hash", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.NeedsRehash(tt.encoded); got != tt.want {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.encoded, got, tt.want)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newTestHasher(t)
	if !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("dummy hash %q does not use the hasher's params", h.dummy)
	}
	if h.NeedsRehash(h.dummy) {
		t.Error("dummy hash needs rehash; it must match the current params so the work is the same")
	}
	for _, pw := range []string{"", "password", "correct horse battery staple"} {
		ok, err := h.VerifyDummy(t.Context(), pw)
		if ok || err != nil {
			t.Errorf("VerifyDummy(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

func TestBusy(t *testing.T) {
	encodedFor := func(t *testing.T) string {
		t.Helper()
		s, err := newTestHasher(t).Hash(t.Context(), "pw")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	encoded := encodedFor(t)
	calls := []struct {
		name string
		call func(ctx context.Context, h *Hasher) error
	}{
		{"Hash", func(ctx context.Context, h *Hasher) error { _, err := h.Hash(ctx, "pw"); return err }},
		{"Verify", func(ctx context.Context, h *Hasher) error { _, err := h.Verify(ctx, "pw", encoded); return err }},
		{"VerifyDummy", func(ctx context.Context, h *Hasher) error { _, err := h.VerifyDummy(ctx, "pw"); return err }},
	}
	for _, c := range calls {
		t.Run(c.name+"/wait expires", func(t *testing.T) {
			h := NewHasher(fastParams, 1, 1) // 1 slot, 1ns wait
			holdSlot(t, h)                   // hold the only slot
			err := c.call(t.Context(), h)
			if !errors.Is(err, ErrBusy) {
				t.Errorf("err = %v, want ErrBusy", err)
			}
			h.slots.Release()
			if err := c.call(t.Context(), h); err != nil {
				t.Errorf("after the slot was freed: err = %v, want nil", err)
			}
		})
		t.Run(c.name+"/context cancelled", func(t *testing.T) {
			h := NewHasher(fastParams, 1, 24*time.Hour) // would wait a day
			holdSlot(t, h)
			defer h.slots.Release()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			err := c.call(ctx, h)
			if !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want ErrBusy and context.Canceled", err)
			}
		})
	}
	t.Run("malformed hash fails before waiting", func(t *testing.T) {
		h := NewHasher(fastParams, 1, 24*time.Hour)
		holdSlot(t, h)
		defer h.slots.Release()
		_, err := h.Verify(t.Context(), "pw", "garbage")
		if !errors.Is(err, ErrMalformedHash) {
			t.Errorf("err = %v, want ErrMalformedHash", err)
		}
	})
	t.Run("slots are released", func(t *testing.T) {
		h := NewHasher(fastParams, 1, 1)
		for range 5 {
			if _, err := h.Hash(t.Context(), "pw"); err != nil {
				t.Fatalf("sequential Hash: %v", err)
			}
		}
		if n := h.slots.InUse(); n != 0 {
			t.Errorf("%d slots still held after all calls returned", n)
		}
	})
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Params
		wantErr bool
	}{
		{"zero means defaults", Params{}, false},
		{"defaults", DefaultParams(), false},
		{"fast", fastParams, false},
		{"1 GiB", Params{Memory: 1 << 20}, false},
		{"over 1 GiB", Params{Memory: 1<<20 + 1}, true},
		{"too few KiB per lane", Params{Memory: 8, Parallelism: 2}, true},
		{"iterations 101", Params{Iterations: 101}, true},
		{"salt 4", Params{SaltLen: 4}, true},
		{"salt 65", Params{SaltLen: 65}, true},
		{"key 8", Params{KeyLen: 8}, true},
		{"key 65", Params{KeyLen: 65}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewHasherPanicsOnInvalidParams(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with Memory over the limit did not panic")
		}
	}()
	NewHasher(Params{Memory: MaxMemory + 1}, 1, 0)
}

// FuzzVerify checks that no input, as password or stored hash, makes Verify
// or NeedsRehash panic, and that a malformed result never claims a match.
func FuzzVerify(f *testing.F) {
	h := NewHasher(fastParams, 1, 0)
	// Keep hostile-but-valid parameters cheap while fuzzing.
	h.limits = limits{maxMemory: 256, maxIterations: 2, maxBcryptCost: bcrypt.MinCost}
	good, err := h.Hash(context.Background(), "password")
	if err != nil {
		f.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		good,
		string(bc),
		"",
		"$",
		"$$$$$",
		"$argon2id$v=19$m=64,t=1,p=1$$",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$2y$04$" + strings.Repeat(".", 53),
		"$2b$99$" + strings.Repeat("/", 53),
	} {
		f.Add("password", seed)
	}
	f.Fuzz(func(t *testing.T, password, encoded string) {
		ok, err := h.Verify(t.Context(), password, encoded)
		if err != nil && ok {
			t.Fatalf("Verify(%q, %q) = true with error %v", password, encoded, err)
		}
		if err != nil && !errors.Is(err, ErrMalformedHash) {
			t.Fatalf("Verify(%q, %q) error = %v, want nil or ErrMalformedHash", password, encoded, err)
		}
		_ = h.NeedsRehash(encoded)
	})
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams(), 0, 0)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	h := NewHasher(DefaultParams(), 0, 0)
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Verify(context.Background(), "correct horse battery staple", encoded); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// holdSlot takes one of h's hashing slots for the test (release it with
// h.slots.Release).
func holdSlot(t *testing.T, h *Hasher) {
	t.Helper()
	if err := h.slots.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestObserveWaits: the wait observer hears once from every operation that
// reaches the slots (Hash, Verify, VerifyDummy), not from a malformed hash
// refused before them, and no slot stays taken or waited for.
func TestObserveWaits(t *testing.T) {
	h := newTestHasher(t)
	var mu sync.Mutex
	var waits []time.Duration
	h.ObserveWaits(func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
	})
	enc, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Verify(t.Context(), "pw", enc); err != nil {
		t.Fatal(err)
	}
	if _, err := h.VerifyDummy(t.Context(), "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Verify(t.Context(), "pw", "$argon2id$garbage"); !errors.Is(err, ErrMalformedHash) {
		t.Fatalf("malformed hash: %v, want ErrMalformedHash", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 3 {
		t.Errorf("%d waits observed, want 3 (Hash, Verify, VerifyDummy)", len(waits))
	}
	if h.InUse() != 0 || h.Queued() != 0 {
		t.Errorf("in use %d, queued %d after every operation returned; want 0 and 0", h.InUse(), h.Queued())
	}
}
