package server

import (
	"net/http"
	"time"

	"github.com/latch/latch/internal/audit"
)

// record stores a security event, adding the time, the client IP and the
// User-Agent of r. A failure is logged and otherwise ignored: the action it
// describes has already happened (a sign-in, a revocation), and refusing it
// afterwards, or hiding that it happened, would be worse than a gap in the
// log that the error line points at.
func (s *Server) record(r *http.Request, e audit.Event) {
	if e.Time.IsZero() {
		e.Time = s.clock().UTC().Truncate(time.Second)
	}
	e.IP = clientIP(r)
	e.UserAgent = r.UserAgent() // the store caps and cleans Email and UserAgent
	if err := s.audit.InsertAuditEvent(r.Context(), &e); err != nil {
		s.log.ErrorContext(r.Context(), "audit event not recorded", "event", string(e.Type), "actor_id", e.ActorID,
			"subject_id", e.SubjectID, "route", logRoute(r), "err", err)
	}
}
