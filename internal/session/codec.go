package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/alexedwards/scs/v2"
)

// valueCodec is the scs.Codec of Latch's sessions: a small binary format
// for the only kinds of value Latch stores (int64, bool and string; see the
// key list in manager.go). It replaces scs's default GobCodec, which builds
// a new gob.Decoder for every session it decodes and so compiles the gob
// type description again each time: a CPU profile of a signed-in page put
// ~20% of its CPU in encoding/gob's compileDec and decodeValue. Decoding a
// session of this format costs a few hundred nanoseconds.
//
// Layout: the magic "\x00L1"; the deadline as a varint of unix
// nanoseconds (0 = the zero time); the number of values (uvarint); then
// per value its key (uvarint length, bytes), a kind byte ('i' varint int64,
// 'b' one byte 0/1, 's' uvarint length and bytes). A gob stream never
// starts with a zero byte (it would be an empty message), so data written
// by GobCodec before this codec existed is told apart and still decoded:
// sessions stored by an older Latch keep working.
type valueCodec struct{}

var _ scs.Codec = valueCodec{}

const codecMagic = "\x00L1"

// maxCodecLen bounds one key or string value when decoding (1 MiB): the
// stores only hold what Latch wrote, but a corrupt length must not make
// the decoder allocate without bound.
const maxCodecLen = 1 << 20

var errCodecCorrupt = errors.New("session: codec: corrupt session data")

// Encode implements scs.Codec. Errors: a value of a kind other than int64,
// bool or string (a programming error: Latch stores no other kind).
func (valueCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b := make([]byte, 0, 64+24*len(values))
	b = append(b, codecMagic...)
	var ns int64
	if !deadline.IsZero() {
		ns = deadline.UnixNano()
	}
	b = binary.AppendVarint(b, ns)
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = appendString(b, k)
		switch v := v.(type) {
		case int64:
			b = binary.AppendVarint(append(b, 'i'), v)
		case bool:
			c := byte(0)
			if v {
				c = 1
			}
			b = append(b, 'b', c)
		case string:
			b = appendString(append(b, 's'), v)
		default:
			return nil, fmt.Errorf("session: codec: value %q has unsupported type %T", k, v)
		}
	}
	return b, nil
}

// Decode implements scs.Codec. Data without the magic is decoded by
// scs.GobCodec (sessions written before this codec). Errors:
// errCodecCorrupt (or gob's error) for data that does not decode; the
// middleware then drops the session.
func (valueCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) < len(codecMagic) || string(b[:len(codecMagic)]) != codecMagic {
		return scs.GobCodec{}.Decode(b)
	}
	d := decoder{b: b[len(codecMagic):]}
	ns := d.varint()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) { // every value takes at least one byte
		return time.Time{}, nil, errCodecCorrupt
	}
	values := make(map[string]any, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.string()
		switch d.byte() {
		case 'i':
			values[k] = d.varint()
		case 'b':
			values[k] = d.byte() == 1
		case 's':
			values[k] = d.string()
		default:
			d.err = errCodecCorrupt
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return time.Time{}, nil, errCodecCorrupt
	}
	var deadline time.Time
	if ns != 0 {
		deadline = time.Unix(0, ns)
	}
	return deadline, values, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads the codec's fields from b; the first failure sticks in err
// and makes every later read return a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCodecCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodecCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCodecCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > maxCodecLen || n > uint64(len(d.b)) || n > math.MaxInt {
		d.err = errCodecCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
