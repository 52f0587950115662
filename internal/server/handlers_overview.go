package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
)

// OverviewStore counts what the admin overview shows from the SQL store
// (*store.DB).
type OverviewStore interface {
	// LoginActivity returns the sign-in events of the hours hour-long
	// intervals ending with the second of end, oldest first (see
	// store.DB.LoginActivity).
	LoginActivity(ctx context.Context, end time.Time, hours int) ([]audit.LoginHour, error)
	// CountDisabledUsers returns the number of disabled accounts.
	CountDisabledUsers(ctx context.Context) (int, error)
}

// overviewHours is how many hours the overview's chart and table show;
// the last 24 of them make the "last 24 hours" counts.
const overviewHours = 48

// The chart's geometry, in SVG user units (the viewBox; the page scales
// it to its width): overviewHours slots of chartSlot units, each with a
// sign-in bar and a failure bar of chartBar units, bars up to chartPlot
// units tall, and margins for the axis labels.
const (
	chartSlot   = 10
	chartBar    = 4
	chartPlot   = 200
	chartLeft   = 40
	chartTop    = 10
	chartBottom = 24
	chartRight  = 8
)

// overviewView is the admin overview (/admin). Every count is of events
// in the audit log or of state in the stores; the words are in the
// template (admin_overview.html).
type overviewView struct {
	// Active sessions (not expired now, swept or not) by kind, as the
	// registry counts them (session.Registry.CountByKind): browser
	// sessions (the login form, the session cookie) and app sessions
	// (POST /api/v1/sessions, a bearer token; issue 10). Sessions is
	// their sum.
	Sessions        int
	BrowserSessions int
	AppSessions     int
	// The last 24 hours (the last 24 buckets of Hours).
	SignIns int // login.succeeded events
	Failed  int // login.failed events after a password check, an unknown email or a disabled account
	// Throttled counts the audited throttle refusals (audit.ThrottledDetailPrefix):
	// the throttle audits the first refused attempt per account and
	// client network in each minute (internal/throttle), so at least this
	// many attempts were refused; every refused POST /login is counted,
	// unsampled, in the metric latch_logins_total{outcome="throttled"}.
	Throttled int
	Disabled  int // accounts disabled now
	// Day is the UTC date (YYYY-MM-DD) the last 24 hours start on: the
	// audit list's from filter is in whole UTC days, so the cards link to
	// the events from that day on, a superset of the counted ones, and say
	// so.
	Day   string
	Since time.Time
	Until time.Time
	Hours []audit.LoginHour // overviewHours, oldest first (the screen-reader table)
	Chart chartView
}

// chartView is the geometry of the overview's SVG bar chart, computed
// here so the template only prints numbers.
type chartView struct {
	Width, Height int // the viewBox
	Left, Right   int // x of the plot area's edges
	Top, Base     int // y of the top of the scale and of the base line
	Middle        int // x of the middle of the plot (the "24 hours ago" label)
	Max           int // events an hour at the top of the scale; 0 when there are none
	SignIns       int // in the whole window
	Failed        int // in the whole window
	Bars          []chartSlotView
}

// chartSlotView is one hour of the chart: a sign-in bar and a failure bar,
// each Height units tall (Height = count × chartPlot / Max, rounded; 0
// when Max is 0) standing on the base line.
type chartSlotView struct {
	Start                  time.Time
	SignIns, Failed        int
	OKX, FailedX           int
	OKY, FailedY           int
	OKHeight, FailedHeight int
}

// overviewQueue and overviewWait bound the admin overviews waiting for
// the one being computed: at most 8 waiting, each at most 5 s.
const (
	overviewQueue = 8
	overviewWait  = 5 * time.Second
)

// errOverviewBusy: too many overviews asked for at once (503 Busy).
var errOverviewBusy = fail.New(fail.Busy, "server: admin overview busy")

// adminOverview shows the counts at a glance: active sessions, sign-ins,
// failed sign-ins and throttle refusals in the last 24 hours, disabled
// accounts, and a chart of sign-ins and failures per hour over the last
// 48 hours (an inline SVG, no script) with the same numbers in a table
// for screen readers. Without an OverviewStore (Config.Overview nil) it
// sends /admin to the account list, as before the overview existed.
// Cost: the registry's count of active sessions by kind
// (session.Registry.CountByKind; Redis: two ZCOUNTs per bucket,
// O(RedisBuckets · log sessions), pipelined on a single Redis; SQL: a
// count of the unexpired rows, O(active sessions): the expiry index alone
// on SQLite, a sequential scan on PostgreSQL, whose planner prefers it
// when nearly every row matches, and of the app sessions through the
// index sessions_kind_expiry_idx, O(active app sessions)) and
// two SQL statements read from indexes (store.DB.LoginActivity: the
// window's sign-in events; CountDisabledUsers: the disabled accounts),
// whatever the size of the rest of the log. BenchmarkAdminOverview times
// the page at 100,000 sessions and 1,000,000 events. One overview is
// computed at a time (overviewRun); more waiting than overviewQueue, or
// longer than overviewWait, get 503 Busy.
func (s *Server) adminOverview(w http.ResponseWriter, r *http.Request) error {
	if s.overview == nil {
		http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
		return nil
	}
	ctx := r.Context()
	// One overview at a time: its counts read up to a few hundred
	// thousand index entries, and parallel ones (a refresh held down, a
	// few admins) would take every database connection from the rest of
	// the site. Others wait their turn, or get 503 Busy.
	if err := s.overviewRun.Acquire(ctx); err != nil {
		return fmt.Errorf("admin overview: %w", errOverviewBusy)
	}
	now := s.clock()
	view, err := s.overviewCounts(ctx, now)
	s.overviewRun.Release()
	if err != nil {
		return err
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.overview.title")
	data.Wide = true
	data.Overview = view
	s.render(w, r, http.StatusOK, "admin_overview", data)
	return nil
}

// overviewCounts gathers the overview's numbers at now.
func (s *Server) overviewCounts(ctx context.Context, now time.Time) (*overviewView, error) {
	browser, app, err := s.sessions.Registry().CountByKind(ctx)
	if err != nil {
		return nil, err
	}
	hours, err := s.overview.LoginActivity(ctx, now, overviewHours)
	if err != nil {
		return nil, err
	}
	disabled, err := s.overview.CountDisabledUsers(ctx)
	if err != nil {
		return nil, err
	}
	v := &overviewView{Sessions: browser + app, BrowserSessions: browser, AppSessions: app, Disabled: disabled, Hours: hours}
	if len(hours) > 0 {
		v.Since, v.Until = hours[0].Start, hours[len(hours)-1].Start.Add(time.Hour)
	}
	if len(hours) >= 24 {
		v.Day = hours[len(hours)-24].Start.UTC().Format(time.DateOnly)
	}
	for i, h := range hours {
		if i >= len(hours)-24 {
			v.SignIns += h.Succeeded
			v.Failed += h.Failed
			v.Throttled += h.Throttled
		}
	}
	v.Chart = newChart(hours)
	return v, nil
}

// newChart lays out the bars of hours: the scale's top is the largest
// count of either series (at least 1, so an empty window draws no bars
// and divides by nothing).
func newChart(hours []audit.LoginHour) chartView {
	c := chartView{
		Width:  chartLeft + len(hours)*chartSlot + chartRight,
		Height: chartTop + chartPlot + chartBottom,
		Left:   chartLeft, Right: chartLeft + len(hours)*chartSlot,
		Top: chartTop, Base: chartTop + chartPlot,
		Middle: chartLeft + len(hours)*chartSlot/2,
	}
	for _, h := range hours {
		c.Max = max(c.Max, h.Succeeded, h.Failed)
		c.SignIns += h.Succeeded
		c.Failed += h.Failed
	}
	scale := max(c.Max, 1)
	height := func(n int) int { return int(math.Round(float64(n) * chartPlot / float64(scale))) }
	for i, h := range hours {
		x := chartLeft + i*chartSlot + (chartSlot-2*chartBar)/2
		ok, failed := height(h.Succeeded), height(h.Failed)
		c.Bars = append(c.Bars, chartSlotView{
			Start: h.Start, SignIns: h.Succeeded, Failed: h.Failed,
			OKX: x, FailedX: x + chartBar,
			OKY: c.Base - ok, FailedY: c.Base - failed,
			OKHeight: ok, FailedHeight: failed,
		})
	}
	return c
}
