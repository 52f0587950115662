package session

import (
	"errors"
	"testing"
	"time"

	"github.com/latch/latch/internal/fail"
)

// TestParseCursor: Cursor.String reads back to the same position (to the
// millisecond), and text that is not a cursor is ErrBadCursor, of kind
// fail.Invalid.
func TestParseCursor(t *testing.T) {
	c := Cursor{LastSeen: time.UnixMilli(1773478800123), Handle: "xG3GcMaTQNh_kGiVuXCfyQ"}
	got, err := ParseCursor(c.String())
	if err != nil || !got.LastSeen.Equal(c.LastSeen) || got.Handle != c.Handle {
		t.Fatalf("ParseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
	}
	for _, bad := range []string{
		"", ".", "1773478800123", "1773478800123.", ".xG3GcMaTQNh_kGiVuXCfyQ",
		"-1.xG3GcMaTQNh_kGiVuXCfyQ", "+1.xG3GcMaTQNh_kGiVuXCfyQ", "1e3.xG3GcMaTQNh_kGiVuXCfyQ",
		"99999999999999999999.xG3GcMaTQNh_kGiVuXCfyQ", "1.short", "1.xG3GcMaTQNh_kGiVuXCfy!", "1.xG3GcMaTQNh_kGiVuXCfyQ.x",
	} {
		if _, err := ParseCursor(bad); !errors.Is(err, ErrBadCursor) || fail.KindOf(err) != fail.Invalid {
			t.Errorf("ParseCursor(%q) err = %v, want ErrBadCursor (Invalid)", bad, err)
		}
	}
}
