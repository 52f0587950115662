// Package password hashes and verifies passwords.
//
// New hashes are argon2id (RFC 9106) in the PHC string format
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64, as written by the reference
// implementation and most libraries. bcrypt hashes ($2a$, $2b$, $2y$) are
// verified, never created, so accounts imported from other systems can sign
// in and be rehashed (see Hasher.NeedsRehash).
//
// Hashing is deliberately expensive in memory and CPU, so a Hasher runs at
// most a fixed number of hashes at once; callers beyond that wait briefly and
// then get ErrBusy, which the server turns into "try again" rather than
// letting a burst of sign-ins exhaust memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/slots"
)

// Errors returned by Hasher methods; match them with errors.Is.
var (
	// ErrBusy means no hashing slot became free within the Hasher's wait
	// time or before the context ended. When the context ended, the error
	// also matches ctx.Err(). Its kind is fail.Busy.
	ErrBusy = fail.New(fail.Busy, "password: too many hashes in progress")
	// ErrMalformedHash means a stored hash is not a PHC argon2id or bcrypt
	// string this package accepts, or its parameters are outside the limits
	// below. It says nothing about the password. Its kind is
	// fail.Internal: a stored hash Latch cannot read is a fault, not input.
	ErrMalformedHash = fail.New(fail.Internal, "password: malformed hash")
)

// Defaults, from the OWASP Password Storage Cheat Sheet (argon2id, first
// configuration: m=19 MiB, t=2, p=1) and RFC 9106 §4 (16-byte salt, 32-byte
// tag).
const (
	DefaultMemory      = 19 * 1024 // KiB
	DefaultIterations  = 2
	DefaultParallelism = 1
	DefaultSaltLen     = 16 // bytes
	DefaultKeyLen      = 32 // bytes
	// DefaultWait is how long a caller waits for a hashing slot.
	DefaultWait = 2 * time.Second
)

// Limits on parameters read from a stored hash (and accepted by NewHasher).
// Anything outside them is ErrMalformedHash: a corrupted or hostile row must
// not make a sign-in allocate gigabytes or spin for minutes.
const (
	MaxMemory     = 1 << 20 // KiB (1 GiB)
	MaxIterations = 100
	MinSaltLen    = 8  // bytes; RFC 9106 §3.1 and the PHC format
	MaxSaltLen    = 64 // bytes
	MinKeyLen     = 16 // bytes
	MaxKeyLen     = 64 // bytes
	// MaxBcryptCost bounds imported bcrypt hashes; cost 16 is about four
	// seconds of one core, and each step doubles it.
	MaxBcryptCost = 16
	// maxEncodedLen bounds the input parsed at all, in bytes.
	maxEncodedLen = 512
)

// argon2Version is the only argon2 version accepted (0x13 = 19).
const argon2Version = argon2.Version

// Params are argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Iterations is the time cost (passes over memory).
	Iterations uint32
	// Parallelism is the number of lanes (threads).
	Parallelism uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived hash in bytes.
	KeyLen uint32
}

// DefaultParams returns the OWASP-recommended argon2id parameters:
// m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte key.
func DefaultParams() Params {
	return Params{
		Memory:      DefaultMemory,
		Iterations:  DefaultIterations,
		Parallelism: DefaultParallelism,
		SaltLen:     DefaultSaltLen,
		KeyLen:      DefaultKeyLen,
	}
}

// kind names p's cost for failure padding: "argon2id m=19456,t=2,p=1".
func (p Params) kind() string {
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d", p.Memory, p.Iterations, p.Parallelism)
}

// withDefaults returns p with each zero field replaced by its default.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// Validate reports whether p, after zero fields take their defaults, lies
// within the limits this package accepts when decoding (MaxMemory,
// MaxIterations, MinSaltLen..MaxSaltLen, MinKeyLen..MaxKeyLen, and
// Memory >= 8*Parallelism as RFC 9106 §3.1 requires). Call it when
// parameters come from configuration, before NewHasher.
func (p Params) Validate() error {
	p = p.withDefaults()
	switch {
	case p.Memory > MaxMemory:
		return fmt.Errorf("password: memory %d KiB exceeds %d KiB", p.Memory, MaxMemory)
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("password: memory %d KiB is below 8 KiB per lane (%d lanes)", p.Memory, p.Parallelism)
	case p.Iterations > MaxIterations:
		return fmt.Errorf("password: iterations %d exceed %d", p.Iterations, MaxIterations)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("password: salt length %d bytes is outside %d..%d", p.SaltLen, MinSaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("password: key length %d bytes is outside %d..%d", p.KeyLen, MinKeyLen, MaxKeyLen)
	}
	return nil
}

// limits bounds what decode accepts. Production Hashers use the package
// constants; tests (the fuzz test) lower them so hostile inputs stay cheap.
type limits struct {
	maxMemory     uint32
	maxIterations uint32
	maxBcryptCost int
}

// Hasher hashes and verifies passwords with bounded concurrency. It is safe
// for concurrent use. Create it with NewHasher.
type Hasher struct {
	params Params
	// slots holds one slot per hash in progress (maxConcurrent), waited
	// for at most the configured wait, by any number of callers.
	slots  *slots.Pool
	limits limits
	// dummy is an argon2id hash, made with params, of a random password
	// nobody knows; VerifyDummy checks against it.
	dummy string
	// pace times verifications per kind of hash, for PadFailure.
	pace *pacer
	// onWait, when set (ObserveWaits), is told how long each caller
	// waited for a slot.
	onWait func(waited time.Duration)
}

// NewHasher returns a Hasher that creates hashes with p, runs at most
// maxConcurrent hashes at once and lets a caller wait at most wait for a
// slot. Zero fields of p take their DefaultParams value; maxConcurrent <= 0
// means runtime.NumCPU(); wait <= 0 means DefaultWait.
//
// NewHasher computes one hash (for VerifyDummy), so it takes as long as one
// Hash call. It panics if p fails Params.Validate, since such a Hasher would
// write hashes it then rejects as malformed; validate configured parameters
// first.
func NewHasher(p Params, maxConcurrent int, wait time.Duration) *Hasher {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	h := &Hasher{
		params: p,
		slots:  slots.New(maxConcurrent, -1, wait),
		limits: limits{maxMemory: MaxMemory, maxIterations: MaxIterations, maxBcryptCost: MaxBcryptCost},
		pace:   newPacer(),
	}
	secret := make([]byte, 32)
	rand.Read(secret) // never returns an error (Go 1.24+)
	start := h.pace.now()
	h.dummy = h.encode(secret)
	// The first failure padding target: what a current hash costs.
	h.pace.observe(h.params.kind(), h.pace.now().Sub(start))
	return h
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns a PHC argon2id string for password, with a fresh random salt.
// It returns ErrBusy (possibly also matching ctx.Err()) when no slot frees up
// in time. The password is hashed as given: no trimming or normalisation.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode([]byte(password)), nil
}

// encode hashes password with h.params and a new salt, without taking a slot.
func (h *Hasher) encode(password []byte) string {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt) // never returns an error (Go 1.24+)
	key := argon2.IDKey(password, salt, h.params.Iterations, h.params.Memory, h.params.Parallelism, h.params.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2Version, h.params.Memory, h.params.Iterations, h.params.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches encoded, an argon2id PHC string or
// a bcrypt hash. It returns (true, nil) on a match and (false, nil) on a
// mismatch; (false, ErrMalformedHash) when encoded cannot be parsed or has
// parameters outside the limits, without doing any hashing; and
// (false, ErrBusy) when no slot frees up in time. Comparison is constant
// time (crypto/subtle).
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if isBcrypt(encoded) {
		if err := h.checkBcrypt(encoded); err != nil {
			return false, err
		}
		if err := h.acquire(ctx); err != nil {
			return false, err
		}
		defer h.release()
		// bcrypt uses only the first 72 bytes, as the systems that made
		// these hashes did; CompareHashAndPassword does not reject longer
		// passwords.
		start := h.pace.now()
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		h.pace.observe("bcrypt cost "+encoded[4:6], h.pace.now().Sub(start))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, fmt.Errorf("%w: %w", ErrMalformedHash, err)
		}
	}
	ph, err := h.decode(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	start := h.pace.now()
	key := argon2.IDKey([]byte(password), ph.salt, ph.params.Iterations, ph.params.Memory, ph.params.Parallelism, ph.params.KeyLen)
	h.pace.observe(ph.params.kind(), h.pace.now().Sub(start))
	return subtle.ConstantTimeCompare(key, ph.key) == 1, nil
}

// VerifyDummy does the work of Verify against a hash of a random password
// made by NewHasher with the current parameters, and always returns false
// (or ErrBusy). Call it when the account does not exist, so the response
// takes as long as for a wrong password and timing does not reveal which
// accounts exist (OWASP Authentication Cheat Sheet; Authelia does the same).
func (h *Hasher) VerifyDummy(ctx context.Context, password string) (bool, error) {
	if _, err := h.Verify(ctx, password, h.dummy); err != nil {
		return false, err
	}
	return false, nil
}

// NeedsRehash reports whether encoded should be replaced by a new Hash of the
// same password after a successful Verify: it is bcrypt, malformed, or
// argon2id with parameters (memory, iterations, parallelism, salt or key
// length) other than the Hasher's.
func (h *Hasher) NeedsRehash(encoded string) bool {
	ph, err := h.decode(encoded)
	if err != nil {
		return true
	}
	return ph.params != h.params
}

// acquire takes a hashing slot, waiting at most the Hasher's wait or
// until ctx ends.
// Errors wrap ErrBusy.
func (h *Hasher) acquire(ctx context.Context) error {
	start := time.Now()
	err := h.slots.Acquire(ctx)
	if h.onWait != nil {
		h.onWait(time.Since(start))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return nil
}

// InUse returns how many hashes (or verifications) run now, at most the
// Hasher's maxConcurrent (the latch_password_hash_in_use gauge).
func (h *Hasher) InUse() int { return h.slots.InUse() }

// Queued returns how many callers wait for a hashing slot now (the
// latch_password_hash_queue_depth gauge).
func (h *Hasher) Queued() int { return h.slots.Queued() }

// ObserveWaits makes f be called once per Hash, Verify and VerifyDummy
// that reached the slots (malformed hashes are refused before), with how
// long the caller waited for a slot: about 0 when one was free, up to
// the Hasher's wait when it gave up with ErrBusy. It is for the
// latch_password_hash_wait_seconds histogram. Call it before the Hasher
// is used; f must be safe for concurrent use.
func (h *Hasher) ObserveWaits(f func(waited time.Duration)) { h.onWait = f }

// release frees a slot taken by acquire.
func (h *Hasher) release() { h.slots.Release() }

// phc is a decoded argon2id PHC string.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// decode parses an argon2id PHC string strictly: the "argon2id" id, "v=19",
// parameters exactly "m=,t=,p=" in that order as decimal numbers, salt and
// hash in canonical unpadded standard base64, all within h.limits and the
// length limits. Any deviation is ErrMalformedHash; it never panics.
func (h *Hasher) decode(encoded string) (phc, error) {
	malformed := func(why string) (phc, error) {
		return phc{}, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	if len(encoded) > maxEncodedLen {
		return malformed("too long")
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return malformed("not a PHC string")
	}
	if fields[1] != "argon2id" {
		return malformed("not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2Version) {
		return malformed("unsupported argon2 version")
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return malformed("want parameters m,t,p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok || v == "" || len(v) > 10 {
			return malformed("want parameters m,t,p")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return malformed("bad parameter " + name)
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > 255:
		return malformed("parallelism out of range")
	case m < 8*p || m > uint64(h.limits.maxMemory):
		return malformed("memory out of range")
	case t < 1 || t > uint64(h.limits.maxIterations):
		return malformed("iterations out of range")
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(fields[4])
	if err != nil || len(salt) < MinSaltLen || len(salt) > MaxSaltLen {
		return malformed("bad salt")
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil || len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return malformed("bad hash")
	}
	return phc{
		params: Params{
			Memory:      uint32(m),
			Iterations:  uint32(t),
			Parallelism: uint8(p),
			SaltLen:     uint32(len(salt)),
			KeyLen:      uint32(len(key)),
		},
		salt: salt,
		key:  key,
	}, nil
}

// isBcrypt reports whether encoded claims to be a bcrypt hash.
func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// bcryptAlphabet is the base64 alphabet bcrypt uses.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt validates the shape of a bcrypt hash: "$2x$NN$" followed by 53
// characters of salt and hash, 60 bytes in all, with a cost from
// bcrypt.MinCost to h.limits.maxBcryptCost.
func (h *Hasher) checkBcrypt(encoded string) error {
	if len(encoded) != 60 || encoded[6] != '$' {
		return fmt.Errorf("%w: bcrypt hash has the wrong length", ErrMalformedHash)
	}
	cost, err := strconv.Atoi(encoded[4:6])
	if err != nil || encoded[4] == '+' || encoded[4] == '-' || cost < bcrypt.MinCost || cost > h.limits.maxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost out of range", ErrMalformedHash)
	}
	for i := 7; i < len(encoded); i++ {
		if strings.IndexByte(bcryptAlphabet, encoded[i]) < 0 {
			return fmt.Errorf("%w: bcrypt hash has an invalid character", ErrMalformedHash)
		}
	}
	return nil
}
