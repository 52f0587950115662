package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/realclientip/realclientip-go"
)

// requestIDHeader carries a request's ID between a proxy and Latch, and
// back to the client on every response.
const requestIDHeader = "X-Request-ID"

// maxRequestIDLen is the longest X-Request-ID taken from a trusted proxy
// (bytes). HAProxy's unique-id-format, nginx's $request_id (32 hex) and
// UUIDs (36) all fit.
const maxRequestIDLen = 64

type requestIDKey struct{}

// requestID gives every request an ID, puts it in the context (every line
// logged with the request's context carries it: withRequestIDs) and sets
// it on the response's X-Request-ID header before any handler writes.
//
// The ID is the request's X-Request-ID header only when the connection's
// peer is a trusted proxy (Config.TrustedProxies, LATCH_TRUSTED_PROXIES)
// and the value is a sane token (validRequestID: 1 to 64 letters, digits
// and - _ . : / + =); anything else a client sends is ignored, so a client
// cannot put text of its choosing into the logs or pose as another
// request. Otherwise the ID is 128 random bits in 32 hex digits.
// (chi's middleware.RequestID believes the header from anyone, which is
// why this one is Latch's own.)
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if v := r.Header.Get(requestIDHeader); v != "" && s.proxies != nil && validRequestID(v) {
			if peer := (realclientip.RemoteAddrStrategy{}).ClientIP(nil, r.RemoteAddr); s.trusted(peer) {
				id = v
			}
		}
		if id == "" {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// validRequestID reports whether v may be used as a request ID: 1 to
// maxRequestIDLen bytes, each an ASCII letter or digit or one of
// "-_.:/+=" (enough for UUIDs, hex, base64 and HAProxy's default
// unique-id-format; no spaces, quotes, control characters or non-ASCII).
func validRequestID(v string) bool {
	if len(v) == 0 || len(v) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 128 random bits as 32 lower-case hex digits.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never returns an error (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// requestIDOf returns the ID requestID gave the request of ctx, or "" for a
// context that did not pass through it.
func requestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDLogger is withRequestIDs for the loggers of code the server
// calls with a request's context (the account operations, built in
// cmd/latch): their lines carry request_id too.
func RequestIDLogger(log *slog.Logger) *slog.Logger { return withRequestIDs(log) }

// withRequestIDs returns a logger that adds request_id (requestIDOf) to
// every record logged with a context that has one: s.log.InfoContext(
// r.Context(), …), s.log.Log(r.Context(), …). Lines logged without the
// request's context are unchanged. nil stays nil.
func withRequestIDs(log *slog.Logger) *slog.Logger {
	if log == nil {
		return nil
	}
	return slog.New(requestIDHandler{log.Handler()})
}

// requestIDHandler is the slog.Handler of withRequestIDs.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestIDOf(ctx); id != "" {
		r = r.Clone() // the caller's record may share its attribute storage
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
