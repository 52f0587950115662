package server

import "testing"

func TestLocalPath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"root", "/", "/"},
		{"path with query", "/profile?tab=1", "/profile?tab=1"},
		{"absolute URL", "https://evil.example", ""},
		{"scheme-relative", "//evil.example", ""},
		{"backslash host", "/\\evil.example", ""},
		{"encoded slashes", "/%2F%2Fevil.example", ""},
		{"encoded backslash", "/%5Cevil.example", ""},
		{"javascript", "javascript:alert(1)", ""},
		{"CRLF", "/\r\nLocation: x", ""},
		{"encoded CRLF", "/%0d%0aSet-Cookie:x", ""},
		{"tab prefix", "\t//evil.example", ""},
		{"leading space", " /profile", ""},
		{"relative", "profile", ""},
		{"triple slash", "///evil.example", ""},
		{"bad escape", "/%zz", ""},
		{"too long", "/" + string(make([]byte, 3000)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localPath(tt.in); got != tt.want {
				t.Errorf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
