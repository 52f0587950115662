package user

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantEmail string
		wantKey   string
		wantMsg   string // "" means valid
	}{
		{name: "plain", in: "name@example.com", wantEmail: "name@example.com", wantKey: "name@example.com"},
		{name: "mixed case kept, key lowered", in: "Ada.Lovelace@Example.COM", wantEmail: "Ada.Lovelace@Example.COM", wantKey: "ada.lovelace@example.com"},
		{name: "trimmed", in: "  \tbob@example.com \n", wantEmail: "bob@example.com", wantKey: "bob@example.com"},
		{name: "plus tag", in: "bob+latch@example.com", wantEmail: "bob+latch@example.com", wantKey: "bob+latch@example.com"},
		{name: "unicode local part", in: "Jörg@Example.com", wantEmail: "Jörg@Example.com", wantKey: "jörg@example.com"},
		{name: "no dot in domain", in: "root@localhost", wantEmail: "root@localhost", wantKey: "root@localhost"},
		{name: "empty", in: "", wantMsg: msgEmailRequired},
		{name: "only spaces", in: "   ", wantMsg: msgEmailRequired},
		{name: "no at", in: "example.com", wantMsg: msgEmailInvalid},
		{name: "no local part", in: "@example.com", wantMsg: msgEmailInvalid},
		{name: "no domain", in: "bob@", wantMsg: msgEmailInvalid},
		{name: "two ats", in: "a@b@example.com", wantMsg: msgEmailInvalid},
		{name: "inner space", in: "bo b@example.com", wantMsg: msgEmailInvalid},
		{name: "double dot", in: "a..b@example.com", wantMsg: msgEmailInvalid},
		{name: "display name", in: "Bob <bob@example.com>", wantMsg: msgEmailBare},
		{name: "angle brackets only", in: "<bob@example.com>", wantMsg: msgEmailBare},
		{name: "comment is a name", in: "bob@example.com (Bob)", wantMsg: msgEmailBare},
		{name: "quoted local part", in: `"bob smith"@example.com`, wantMsg: msgEmailInvalid},
		{name: "two addresses", in: "a@example.com, b@example.com", wantMsg: msgEmailInvalid},
		{name: "control char", in: "bob\x00@example.com", wantMsg: msgEmailControl},
		{name: "newline inside", in: "bob@exa\nmple.com", wantMsg: msgEmailControl},
		{name: "invalid utf8", in: "bob\xff@example.com", wantMsg: msgEmailUTF8},
		{name: "254 bytes ok", in: strings.Repeat("a", 64) + "@" + domainOfLen(254-65), wantEmail: strings.Repeat("a", 64) + "@" + domainOfLen(254-65), wantKey: strings.Repeat("a", 64) + "@" + domainOfLen(254-65)},
		{name: "255 bytes", in: strings.Repeat("a", 64) + "@" + domainOfLen(255-65), wantMsg: msgEmailTooLong},
		{name: "local part 65 bytes", in: strings.Repeat("a", 65) + "@example.com", wantMsg: msgLocalTooLong},
		// Look-alikes (issue 12.4).
		{name: "fullwidth becomes ascii", in: "ａｌｉｃｅ@example.com", wantEmail: "alice@example.com", wantKey: "alice@example.com"},
		{name: "fullwidth at sign and capitals", in: "ＡＬＩＣＥ＠ｅｘａｍｐｌｅ．ｃｏｍ", wantEmail: "ALICE@example.com", wantKey: "alice@example.com"},
		{name: "ligature", in: "ﬁnn@example.com", wantEmail: "finn@example.com", wantKey: "finn@example.com"},
		{name: "cyrillic i among latin", in: "alіce@example.com", wantMsg: msgEmailScripts},
		{name: "cyrillic a in the domain", in: "alice@exаmple.com", wantMsg: msgEmailScripts},
		{name: "greek omicron", in: "bοb@example.com", wantMsg: msgEmailScripts},
		{name: "all cyrillic", in: "иван@example.com", wantEmail: "иван@example.com", wantKey: "иван@example.com"},
		{name: "cyrillic domain label", in: "ivan@пример.рф", wantEmail: "ivan@пример.рф", wantKey: "ivan@пример.рф"},
		{name: "hangul", in: "민준@example.kr", wantEmail: "민준@example.kr", wantKey: "민준@example.kr"},
		{name: "japanese with latin", in: "山田たろうtaro@example.jp", wantEmail: "山田たろうtaro@example.jp", wantKey: "山田たろうtaro@example.jp"},
		{name: "korean with han and latin", in: "金민준kim@example.kr", wantEmail: "金민준kim@example.kr", wantKey: "金민준kim@example.kr"},
		{name: "hangul with kana", in: "민준たろう@example.com", wantMsg: msgEmailScripts},
		{name: "zero-width space", in: "ali\u200bce@example.com", wantMsg: msgEmailFormat},
		{name: "soft hyphen", in: "ali\u00adce@example.com", wantMsg: msgEmailFormat},
		{name: "right-to-left override", in: "\u202eecila@example.com", wantMsg: msgEmailFormat},
		{name: "left-to-right mark", in: "alice\u200e@example.com", wantMsg: msgEmailFormat},
		{name: "first strong isolate", in: "alice@example.com\u2068", wantMsg: msgEmailFormat},
		{name: "arabic letter mark", in: "alice\u061c@example.com", wantMsg: msgEmailFormat},
		{name: "byte order mark", in: "\ufeffalice@example.com", wantMsg: msgEmailFormat},
		// Default-ignorable characters that are not Cf, and lone combining marks.
		{name: "combining grapheme joiner", in: "alice\u034f@example.com", wantMsg: msgEmailFormat},
		{name: "combining grapheme joiner in the domain", in: "alice@exam\u034fple.com", wantMsg: msgEmailFormat},
		{name: "hangul filler U+3164", in: "alice\u3164@example.com", wantMsg: msgEmailFormat},
		{name: "halfwidth hangul filler U+FFA0", in: "alice\uffa0@example.com", wantMsg: msgEmailFormat},
		{name: "hangul choseong filler U+115F", in: "alice\u115f@example.com", wantMsg: msgEmailFormat},
		{name: "hangul jungseong filler U+1160", in: "alice\u1160@example.com", wantMsg: msgEmailFormat},
		{name: "hangul filler among hangul", in: "민준\u3164@example.kr", wantMsg: msgEmailFormat},
		{name: "variation selector 16", in: "alice\ufe0f@example.com", wantMsg: msgEmailFormat},
		{name: "variation selector 1", in: "alice\ufe00@example.com", wantMsg: msgEmailFormat},
		{name: "variation selector 17", in: "alice\U000e0100@example.com", wantMsg: msgEmailFormat},
		{name: "variation selector 256", in: "alice\U000e01ef@example.com", wantMsg: msgEmailFormat},
		{name: "mongolian variation selector", in: "alice\u180b@example.com", wantMsg: msgEmailFormat},
		{name: "combining dot above", in: "ali\u0307ce@example.com", wantMsg: msgEmailMark},
		{name: "combining long stroke overlay", in: "alic\u0336e@example.com", wantMsg: msgEmailMark},
		{name: "combining mark in the domain", in: "alice@ex\u0338ample.com", wantMsg: msgEmailMark},
		{name: "enclosing circle", in: "alice\u20dd@example.com", wantMsg: msgEmailMark},
		{name: "decomposed accent composed by NFKC", in: "Jo\u0308rg@example.com", wantEmail: "Jörg@example.com", wantKey: "jörg@example.com"},
		{name: "decomposed hangul composed by NFKC", in: "\u1106\u1175\u11ab@example.kr", wantEmail: "민@example.kr", wantKey: "민@example.kr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email, key, err := NormalizeEmail(tt.in)
			if tt.wantMsg != "" {
				var verr *ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("NormalizeEmail(%q) error = %v, want *ValidationError", tt.in, err)
				}
				if verr.Field != "email" || verr.Message != tt.wantMsg {
					t.Errorf("NormalizeEmail(%q) = %+v, want field email, message %q", tt.in, verr, tt.wantMsg)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
				}
				if email != "" || key != "" {
					t.Errorf("NormalizeEmail(%q) returned %q, %q with an error", tt.in, email, key)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) error = %v", tt.in, err)
			}
			if email != tt.wantEmail || key != tt.wantKey {
				t.Errorf("NormalizeEmail(%q) = %q, %q; want %q, %q", tt.in, email, key, tt.wantEmail, tt.wantKey)
			}
		})
	}
}

// domainOfLen returns a syntactically valid domain of exactly n bytes (n >= 5),
// made of labels of at most 63 bytes, ending in ".com".
func domainOfLen(n int) string {
	var b strings.Builder
	rest := n - len(".com")
	for rest > 0 {
		if b.Len() > 0 {
			b.WriteByte('.')
			rest--
		}
		l := min(rest, 63)
		if rest-l == 1 { // avoid leaving room only for a dot
			l--
		}
		b.WriteString(strings.Repeat("d", l))
		rest -= l
	}
	b.WriteString(".com")
	return b.String()
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "ascii", in: "Ada Lovelace", want: ""},
		{name: "unicode", in: "Zoë Ñúñez 王小明 🦊", want: ""},
		{name: "trimmed single char", in: "  A  ", want: ""},
		{name: "100 runes", in: strings.Repeat("é", 100), want: ""},
		{name: "101 runes", in: strings.Repeat("é", 101), want: msgNameTooLong},
		{name: "101 runes with spaces trimmed", in: "  " + strings.Repeat("x", 100) + "  ", want: ""},
		{name: "empty", in: "", want: msgNameRequired},
		{name: "blank", in: " \t ", want: msgNameRequired},
		{name: "control", in: "Ada\x07", want: msgNameControl},
		{name: "newline inside", in: "Ada\nLovelace", want: msgNameControl},
		{name: "invalid utf8", in: "Ada\xc3", want: msgNameUTF8},
		{name: "hangul", in: "김민준", want: ""},
		{name: "scripts may mix", in: "Ada Лавлейс 王 민준", want: ""},
		{name: "zero-width space", in: "Ad\u200ba", want: msgNameFormat},
		{name: "soft hyphen", in: "Love\u00adlace", want: msgNameFormat},
		{name: "right-to-left override", in: "\u202eecalevoL adA", want: msgNameFormat},
		{name: "pop directional isolate", in: "Ada\u2069", want: msgNameFormat},
		{name: "combining grapheme joiner", in: "Ada\u034f", want: msgNameFormat},
		{name: "hangul filler", in: "\u3164", want: msgNameFormat},
		{name: "hangul filler beside hangul", in: "김민준\uffa0", want: msgNameFormat},
		{name: "variation selector", in: "Ada\ufe0f", want: msgNameFormat},
		{name: "supplementary variation selector", in: "Ada\U000e0100", want: msgNameFormat},
		{name: "combining marks allowed in names", in: "Ade\u0301la\u0336", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidateName(tt.in); got != tt.want {
				t.Errorf("ValidateName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestEmailLookupKeys: an account stored before NFKC and the look-alike
// rules is found by the address it has (the exact lower-cased key first),
// and a new one by its NFKC key.
func TestEmailLookupKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Alice@Example.com", []string{"alice@example.com"}},
		{" ａｌｉｃｅ@example.com ", []string{"ａｌｉｃｅ@example.com", "alice@example.com"}},
		{"alіce@example.com", []string{"alіce@example.com"}}, // refused for new accounts, still looked up
		{"bo\u200bb@example.com", []string{"bo\u200bb@example.com"}},
		{"", nil},
		{"a\x00@example.com", nil},
		{"\xff@example.com", nil},
		{strings.Repeat("a", 250) + "@x.com", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, EmailLookupKeys(tt.in)); diff != "" {
			t.Errorf("EmailLookupKeys(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "12 ascii", in: "abcdefghijkl", want: ""},
		{name: "11 ascii", in: "abcdefghijk", want: msgPasswordShort},
		{name: "12 runes multibyte", in: "пароль-парол", want: ""},
		{name: "11 runes but 22 bytes", in: strings.Repeat("ж", 11), want: msgPasswordShort},
		{name: "spaces count and are kept", in: "  correct horse  ", want: ""},
		{name: "emoji", in: strings.Repeat("🔑", 12), want: ""},
		{name: "no composition rules", in: "aaaaaaaaaaaa", want: ""},
		{name: "1024 bytes", in: strings.Repeat("a", 1024), want: ""},
		{name: "1025 bytes", in: strings.Repeat("a", 1025), want: msgPasswordLong},
		{name: "1024 bytes multibyte boundary", in: strings.Repeat("ж", 513), want: msgPasswordLong},
		{name: "empty", in: "", want: msgPasswordRequired},
		{name: "invalid utf8", in: "abcdefghijkl\xff", want: msgPasswordUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidatePassword(tt.in); got != tt.want {
				t.Errorf("ValidatePassword(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateRegistration(t *testing.T) {
	tests := []struct {
		name                  string
		email, uname, passwrd string
		want                  map[string]string
	}{
		{
			name:  "valid",
			email: "ada@example.com", uname: "Ada", passwrd: "correct horse battery",
			want: map[string]string{},
		},
		{
			name:  "all wrong",
			email: "nope", uname: " ", passwrd: "short",
			want: map[string]string{"email": msgEmailInvalid, "name": msgNameRequired, "password": msgPasswordShort},
		},
		{
			name:  "invalid utf8 everywhere",
			email: "\xff@example.com", uname: "\xff", passwrd: "\xffabcdefghijkl",
			want: map[string]string{"email": msgEmailUTF8, "name": msgNameUTF8, "password": msgPasswordUTF8},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateRegistration(tt.email, tt.uname, tt.passwrd)
			if got == nil {
				t.Fatal("ValidateRegistration returned nil map")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateRegistration mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoleValid(t *testing.T) {
	for _, tt := range []struct {
		role Role
		want bool
	}{{RoleUser, true}, {RoleAdmin, true}, {"", false}, {"root", false}, {"Admin", false}} {
		if got := tt.role.Valid(); got != tt.want {
			t.Errorf("Role(%q).Valid() = %v, want %v", tt.role, got, tt.want)
		}
	}
}

func TestNextCredentialEpoch(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	tests := []struct {
		name    string
		current time.Time
		want    int64
	}{
		{"never set", time.Time{}, 1_000_000},
		{"older", at.Add(-time.Hour), 1_000_000},
		{"same second", at, 1_000_001},
		{"later", at.Add(time.Hour), 1_003_601},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &User{SessionsValidAfter: tt.current}
			if got := u.NextCredentialEpoch(at); got != tt.want {
				t.Errorf("NextCredentialEpoch = %d, want %d", got, tt.want)
			}
		})
	}
}
