package session

import (
	"errors"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/google/go-cmp/cmp"
)

func TestValueCodecRoundTrip(t *testing.T) {
	deadline := time.Unix(1_790_000_000, 123_456_789)
	tests := []struct {
		name     string
		deadline time.Time
		values   map[string]any
	}{
		{"empty", time.Time{}, map[string]any{}},
		{"every kind", deadline, map[string]any{
			keyUserID: int64(42), keyCreated: int64(-1), keyRemember: true, "no": false,
			keyCSRF: "abc", keyUA: "Mozilla/5.0 (X11; Linux x86_64) \u00e9\u00e8 \U0001F600", keyIP: "",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := valueCodec{}.Encode(tc.deadline, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			gotDeadline, got, err := valueCodec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !gotDeadline.Equal(tc.deadline) {
				t.Errorf("deadline %v, want %v", gotDeadline, tc.deadline)
			}
			if diff := cmp.Diff(tc.values, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

// Sessions stored by an older Latch were gob-encoded (scs's default codec):
// they must still decode.
func TestValueCodecReadsGob(t *testing.T) {
	deadline := time.Unix(1_790_000_000, 0)
	values := map[string]any{keyUserID: int64(7), keyRemember: true, keyCSRF: "tok"}
	b, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, got, err := valueCodec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !gotDeadline.Equal(deadline) || !cmp.Equal(values, got) {
		t.Errorf("got %v %v, want %v %v", gotDeadline, got, deadline, values)
	}
}

func TestValueCodecRefusesOtherKinds(t *testing.T) {
	if _, err := (valueCodec{}).Encode(time.Now(), map[string]any{"t": time.Now()}); err == nil {
		t.Error("a time.Time value was encoded; want an error (only int64, bool and string are stored)")
	}
}

// Every truncation of a valid encoding, and a few corruptions, fail with an
// error instead of a panic or a wrong session.
func TestValueCodecCorrupt(t *testing.T) {
	b, err := valueCodec{}.Encode(time.Unix(1_790_000_000, 0), map[string]any{keyUserID: int64(42), keyCSRF: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	for n := len(codecMagic); n < len(b); n++ {
		if _, _, err := (valueCodec{}).Decode(b[:n]); !errors.Is(err, errCodecCorrupt) {
			t.Errorf("truncated to %d of %d bytes: err %v, want errCodecCorrupt", n, len(b), err)
		}
	}
	for _, bad := range [][]byte{
		append([]byte(codecMagic), 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // huge count
		append([]byte(codecMagic), 0, 1, 1, 'k', 'x'),                                             // unknown kind
		append(append([]byte{}, b...), 0),                                                         // trailing byte
	} {
		if _, _, err := (valueCodec{}).Decode(bad); !errors.Is(err, errCodecCorrupt) {
			t.Errorf("Decode(%q): err %v, want errCodecCorrupt", bad, err)
		}
	}
}

func FuzzValueCodecDecode(f *testing.F) {
	b, _ := valueCodec{}.Encode(time.Unix(1_790_000_000, 0), map[string]any{keyUserID: int64(42), keyRemember: true, keyCSRF: "abc"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		deadline, values, err := valueCodec{}.Decode(data)
		if err != nil {
			return
		}
		again, err := valueCodec{}.Encode(deadline, values)
		if err != nil {
			t.Fatalf("decoded values do not encode: %v", err)
		}
		d2, v2, err := valueCodec{}.Decode(again)
		if err != nil || !d2.Equal(deadline) || !cmp.Equal(values, v2) {
			t.Fatalf("re-encoding changed the session: %v %v %v", err, values, v2)
		}
	})
}

func BenchmarkValueCodecDecode(b *testing.B) {
	values := map[string]any{keyUserID: int64(42), keyCreated: int64(1_790_000_000_000), keyAbsolute: int64(1_790_000_000),
		keySeen: int64(1_790_000_000), keyRemember: false, keyCSRF: "0123456789012345678901234567890123456789012",
		keyAuthAt: int64(1_790_000_000), keyHandle: "0123456789012345678901", keyIP: "203.0.113.7",
		keyUA: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", keyCred: int64(0)}
	for _, c := range []struct {
		name  string
		codec scs.Codec
	}{{"latch", valueCodec{}}, {"gob", scs.GobCodec{}}} {
		enc, err := c.codec.Encode(time.Now(), values)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := c.codec.Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
