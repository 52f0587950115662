package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clientnet"
	"github.com/latch/latch/internal/text"
	"github.com/latch/latch/internal/user"
)

// This file is the new-device alert: a sign-in from a browser, OS and
// network not seen for the account in the last 30 days is recorded as a
// login.new_device audit event, and the account's other sessions show
// "New sign-in from Firefox on Windows, 10:31 UTC — not you? Review your
// devices" once, on their next page. It also finds the last successful and
// failed sign-ins the profile shows.

// DeviceLog remembers which devices each account signs in from (the SQL
// store's known_devices table).
type DeviceLog interface {
	// RecordDeviceLogin records a sign-in of userID from device key (label
	// in plain words) in session handle at `at` (millisecond precision),
	// and reports whether it counts as new: the account has other known
	// devices and key was not seen since cutoff. The first device of an
	// account is never new. A new one becomes the account's
	// User.NewDevice (part of its state, so of its state copy: the notice
	// needs no query). An error matching user.ErrStateCopyNotWritten comes
	// with the answer: only the copy's write failed.
	RecordDeviceLogin(ctx context.Context, userID int64, key, label, handle string, at, cutoff time.Time) (bool, error)
}

// newDeviceWindow is how long a device may go unseen before a sign-in from
// it counts as new again (the "last 30 days").
const newDeviceWindow = 30 * 24 * time.Hour

// signInDevice is what identifies the device of a sign-in.
type signInDevice struct {
	Label   string // browser family and OS in plain words: "Firefox on Windows"
	Network string // the client's network (networkOf): "198.51.100.7", "2001:db8:1:2::/64", "unknown network"
}

// Key is the device key stored in known_devices.
func (d signInDevice) Key() string { return d.Label + "|" + d.Network }

// signInDeviceOf describes the device r comes from. The browser is named
// by family without version, so that an update does not make a known
// browser new; the network is the prefix of the client IP (see
// networkOf).
func (s *Server) signInDeviceOf(r *http.Request) signInDevice {
	label := s.deviceName(text.Truncate(r.UserAgent(), audit.MaxUserAgentBytes), false)
	return signInDevice{Label: label, Network: networkOf(clientIP(r))}
}

// networkOf returns the network an IP address belongs to for device
// recognition: clientnet.Of's (the IPv4 address itself, IPv4-mapped IPv6
// as IPv4, an IPv6 address's /64), or "unknown network" when ip is not an
// address.
//
// It is the one granularity Latch recognises a client by (issue 12 item
// 3): the throttle counts by it and the owner's known networks, exempt
// from the per-account quota, are matched by it, so a device is "known"
// exactly where the throttle knows it. An IPv6 device keeps its /64 while
// its privacy addresses rotate (RFC 8981); an IPv4 client whose address
// changes (a new DHCP lease, a carrier's NAT pool) is a new network, and
// its next sign-in from a known browser is reported as a new device.
func networkOf(ip string) string {
	if n, ok := clientnet.Of(ip); ok {
		return n
	}
	return "unknown network"
}

// recordDevice is called once a sign-in has succeeded, with the new
// session's handle: it remembers the client's network for the throttle's
// known-network exemption (rememberNetwork), remembers the device and,
// when it is new for the account, records a LoginNewDevice event (which
// the notice of the other sessions is based on). A store failure is
// logged; the sign-in stands.
func (s *Server) recordDevice(r *http.Request, userID int64, handle string) {
	s.rememberNetwork(r, userID)
	if s.devices == nil {
		return
	}
	d := s.signInDeviceOf(r)
	at := s.clock().UTC() // milliseconds count: the notice compares with the sessions' login times
	now := at.Truncate(time.Second)
	isNew, err := s.devices.RecordDeviceLogin(r.Context(), userID, d.Key(), d.Label, handle, at, now.Add(-newDeviceWindow))
	if errors.Is(err, user.ErrStateCopyNotWritten) {
		s.log.WarnContext(r.Context(), "account state copy not written", "user_id", userID, "err", err)
		err = nil
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "known device not recorded", "user_id", userID, "client_ip", clientIP(r), "err", err)
		return
	}
	if !isNew {
		return
	}
	s.log.InfoContext(r.Context(), "sign-in from a new device", "user_id", userID, "client_ip", clientIP(r), "session_handle", handle)
	s.record(r, audit.Event{Type: audit.LoginNewDevice, Time: now, ActorID: userID, SubjectID: userID,
		SessionHandle: handle, Detail: d.Label + ", " + d.Network})
}

// deviceNotice is the "New sign-in from …" note at the top of a page.
type deviceNotice struct {
	Device string    // "Firefox on Windows"
	Time   time.Time // of the sign-in, UTC
	When   string    // Time for people, in the reader's zone: "10:31 UTC", or "14 Mar 2026, 10:31 UTC" on another day
}

// newDeviceNotice returns the notice the current session has yet to show,
// or nil: the account's newest new-device sign-in (User.NewDevice, part of
// the principal, so no query), when another session made it at or after
// this one signed in and after the last notice this session showed. Both
// comparisons are in milliseconds, so a sign-in in the same second as this
// session's login is still shown, and the notice's own session never
// shows it. The notice is marked seen, in the session, only when the page
// is rendered (see render).
func (s *Server) newDeviceNotice(r *http.Request) *deviceNotice {
	ctx := r.Context()
	u := currentUser(ctx)
	if s.devices == nil || u == nil || r.Method == http.MethodHead {
		return nil
	}
	nd := u.NewDevice
	if nd.At.IsZero() || nd.Handle == "" || nd.Handle == s.sessions.Handle(ctx) {
		return nil
	}
	info, ok := s.sessions.Info(ctx)
	if !ok || nd.At.Before(info.Created) || !nd.At.After(s.sessions.NoticeSeen(ctx)) {
		return nil
	}
	at, label := nd.At.UTC(), nd.Label
	rd := s.readerOf(r)
	when := rd.Clock(at)
	if !rd.SameDay(s.clock(), at) {
		when = rd.Time(at)
	}
	return &deviceNotice{Device: label, Time: at, When: when}
}

// signInsView is the profile's "Sign-ins" section.
type signInsView struct {
	Last        *eventRow // the newest successful sign-in other than this session's own; nil if none
	LastFailed  *eventRow // the newest failed sign-in to the account; nil if none
	Unavailable bool      // the audit log could not be read
}

// lastSignIns finds the profile's last successful sign-in (other than the
// one that created session handle) and last failed one in the audit log:
// two short indexed reads of the newest events of one type for the user.
func (s *Server) lastSignIns(ctx context.Context, userID int64, handle string) (signInsView, error) {
	var v signInsView
	ok, _, err := s.audit.AuditEvents(ctx, audit.Filter{UserID: userID, Type: audit.LoginSucceeded, Limit: 2, NoTotal: true})
	if err != nil {
		return signInsView{Unavailable: true}, err
	}
	for _, e := range ok {
		if e.SessionHandle != handle {
			v.Last = &s.eventRows([]audit.Event{e}, nil)[0]
			break
		}
	}
	failed, _, err := s.audit.AuditEvents(ctx, audit.Filter{UserID: userID, Type: audit.LoginFailed, Limit: 1, NoTotal: true})
	if err != nil {
		return signInsView{Unavailable: true}, err
	}
	if len(failed) > 0 {
		v.LastFailed = &s.eventRows(failed, nil)[0]
	}
	return v, nil
}
