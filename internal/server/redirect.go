package server

import "net/url"

// localPath returns next if it is safe to redirect to after login: a path on
// this site, such as "/profile?tab=1". Anything that a browser could read as
// another origin — an absolute URL, "//host", "/\host", an encoded form of
// those, a javascript: URL, control characters — gives "" (OWASP ASVS 5.0
// V3.7.2, open redirects).
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	decoded, err := url.PathUnescape(next)
	if err != nil {
		return ""
	}
	for _, v := range []string{next, decoded} {
		if len(v) > 1 && (v[1] == '/' || v[1] == '\\') {
			return ""
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c == 0x7f || c == '\\' {
				return ""
			}
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
