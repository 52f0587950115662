package account

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
)

// RevokeSession ends the active session named handle and records
// audit.SessionRevoked with the session's owner as subject, handle as
// session and SessionDetail as detail. owner > 0 restricts it to that
// account's sessions (a person ending one of their own: a handle of
// anybody else's is ErrNoSession, so nobody learns which handles exist);
// 0 allows any (an administrator, the CLI). Errors: ErrCurrentSession when
// handle is a.SessionHandle (logging out ends that one); ErrNoSession when
// no such active session exists (ended already, or never); the registry's
// (unavailable). The returned Outcome.Audit says whether the event was stored.
func (s *Service) RevokeSession(ctx context.Context, a Actor, handle string, owner int64) (session.Record, Outcome, error) {
	if a.SessionHandle != "" && handle == a.SessionHandle {
		return session.Record{}, Outcome{}, ErrCurrentSession
	}
	if owner > 0 {
		recs, err := s.sessions.UserSessions(ctx, owner)
		if err != nil {
			return session.Record{}, Outcome{}, fmt.Errorf("account: revoke session: %w", err)
		}
		if !slices.ContainsFunc(recs, func(rec session.Record) bool { return rec.Handle == handle }) {
			return session.Record{}, Outcome{}, ErrNoSession
		}
	}
	rec, found, err := s.sessions.Revoke(ctx, handle)
	if err != nil {
		return session.Record{}, Outcome{}, fmt.Errorf("account: revoke session: %w", err)
	}
	if !found {
		return session.Record{}, Outcome{}, ErrNoSession
	}
	s.counter.SessionsRevoked(causeOf(a), 1)
	s.log.InfoContext(ctx, "session revoked", append([]any{"user_id", rec.UserID, "session_handle", handle}, a.logAttrs()...)...)
	auditErr := s.record(ctx, a, audit.Event{Type: audit.SessionRevoked, SubjectID: rec.UserID,
		SessionHandle: handle, Detail: s.SessionDetail(rec)})
	return rec, Outcome{Audit: auditErr}, nil
}

// RevokeAll ends every session of account subjectID — except, when that is
// the actor's own account, the session the actor is using — and records
// audit.SessionsRevoked with the count: "3 sessions ended", "…, all but
// the current one" (a person on their own account) or "…, all but the
// administrator's current one" (an administrator on theirs). It returns
// the ended sessions and whether one was kept. Errors: the registry's;
// nothing is recorded then.
func (s *Service) RevokeAll(ctx context.Context, a Actor, subjectID int64) (ended []session.Record, keptOwn bool, o Outcome, err error) {
	except := ""
	if a.UserID != 0 && a.UserID == subjectID {
		except = a.SessionHandle
	}
	ended, err = s.sessions.RevokeUser(ctx, subjectID, except)
	if err != nil {
		return nil, false, Outcome{}, fmt.Errorf("account: revoke all sessions: %w", err)
	}
	s.counter.SessionsRevoked(causeOf(a), len(ended))
	detail := CountSessions(len(ended)) + " ended"
	switch {
	case except != "" && a.Via == audit.ViaAdmin:
		detail += ", all but the administrator's current one"
	case except != "":
		detail += ", all but the current one"
	}
	s.log.InfoContext(ctx, "sessions revoked", append([]any{"user_id", subjectID, "count", len(ended)}, a.logAttrs()...)...)
	auditErr := s.record(ctx, a, audit.Event{Type: audit.SessionsRevoked, SubjectID: subjectID, Detail: detail})
	return ended, except != "", Outcome{Audit: auditErr}, nil
}

// RevokeOthers ends every session of the actor's own account except the
// one the actor is using ("sign out everywhere else"): RevokeAll of
// a.UserID. Errors: an Internal error when a names no account or no
// current session (that would end the current one too); the registry's.
func (s *Service) RevokeOthers(ctx context.Context, a Actor) ([]session.Record, Outcome, error) {
	if a.UserID == 0 || a.SessionHandle == "" {
		return nil, Outcome{}, errors.New("account: revoke other sessions: the actor has no account or no current session")
	}
	ended, _, o, err := s.RevokeAll(ctx, a, a.UserID)
	return ended, o, err
}

// SessionDetail describes an ended session for the audit log, the same
// way whoever ended it: its browser and OS (DeviceName with the version)
// and its client IP, "Firefox 128 on Linux, 203.0.113.7".
func (s *Service) SessionDetail(rec session.Record) string {
	d := s.SessionDevice(rec, true)
	if rec.IP != "" {
		d += ", " + rec.IP
	}
	return d
}

// SessionDevice names the device of session rec for lists and audit
// details: "App: <device name>" for an app session (session.KindApp),
// else DeviceName of its User-Agent.
func (s *Service) SessionDevice(rec session.Record, withVersion bool) string {
	if rec.Kind == session.KindApp {
		return "App: " + rec.DeviceName
	}
	return s.DeviceName(rec.UserAgent, withVersion)
}

// DeviceName names the browser and OS of a User-Agent (parsed with
// github.com/medama-io/go-useragent): "Firefox 128 on Windows"
// (withVersion) or "Firefox on Windows"; "Unknown browser" when the parser
// finds none. The session lists, the audit details and the new-device
// label all use it; the pages show it in the reader's language through
// internal/locale's Reader.Device, which knows this form (and SessionDevice's).
func (s *Service) DeviceName(userAgent string, withVersion bool) string {
	ua := s.agents.Parse(userAgent)
	name := string(ua.Browser())
	if name == "" {
		name = "Unknown browser"
	} else if v := ua.BrowserVersionMajor(); withVersion && v != "" {
		name += " " + v
	}
	switch os := string(ua.OS()); os {
	case "":
		return name
	case "MacOS":
		return name + " on macOS"
	default:
		return name + " on " + os
	}
}
