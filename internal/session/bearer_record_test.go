package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRegistryKeepsKindAndDeviceName: every store lists, pages and revokes
// an app session with its kind, device name and User-Agent as committed,
// and a browser session as a browser one (also one whose User-Agent
// contains the separator a device name may not).
func TestRegistryKeepsKindAndDeviceName(t *testing.T) {
	for name, newFixture := range registryFixtures() {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			now := time.Now()
			app := newRecord(1, 42, "192.0.2.1", now)
			app.Kind, app.DeviceName, app.UserAgent = KindApp, "Ada's phone ✓", "LatchApp/1.0"
			browser := newRecord(2, 42, "192.0.2.2", now.Add(-time.Minute))
			browser.UserAgent = "Mozilla/5.0 app\x01x" // not from a real header, but must not turn into an app
			for i, r := range []Record{app, browser} {
				if err := put(t, f.store, placed("tok-kind-"+string(rune('a'+i)), r.UserID), r, true); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.store.UserSessions(ctx, 42)
			if err != nil || len(got) != 2 {
				t.Fatalf("UserSessions: %v, %v", got, err)
			}
			opts := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
			if diff := cmp.Diff([]Record{app, browser}, got, opts); diff != "" {
				t.Errorf("UserSessions (-want +got):\n%s", diff)
			}
			page, err := f.store.Sessions(ctx, Query{})
			if err != nil || len(page.Records) != 2 || page.Records[0].Kind != KindApp || page.Records[1].Kind != KindBrowser {
				t.Errorf("Sessions: %+v, %v", page.Records, err)
			}
			rec, found, err := f.store.Revoke(ctx, app.Handle)
			if err != nil || !found || rec.Kind != KindApp || rec.DeviceName != app.DeviceName {
				t.Errorf("Revoke: %+v %v %v", rec, found, err)
			}
		})
	}
}

func TestValidDeviceName(t *testing.T) {
	for name, want := range map[string]bool{
		"": true, "Ada's phone": true, "Téléphone ✓": true, string(make([]byte, 65)): false,
		"tab\there": false, "new\nline": false, "sep\x01": false, "del\x7f": false, "c1\u0085": false, "\xff": false,
		strings.Repeat("한", 25): true, strings.Repeat("한", 64): true, strings.Repeat("📱", 64): true,
		strings.Repeat("한", 65): false, strings.Repeat("a", 65): false,
		"rlo\u202e": false, "zw\u200bsp": false, "\ufeffbom": false, "lrm\u200e": false, "soft\u00adhyphen": false,
	} {
		if got := ValidDeviceName(name); got != want {
			t.Errorf("ValidDeviceName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestBearerTokenOffered: only "Bearer <credential>" offers a token (RFC
// 6750 §3.1: no error code for a request that offered none); two
// Authorization headers are ErrAuthorizationTwice.
func TestBearerTokenOffered(t *testing.T) {
	valid := BearerPrefix + strings.Repeat("A", 43)
	for _, tc := range []struct {
		name          string
		headers       []string
		presented, ok bool
		twice         bool
	}{
		{"none", nil, false, false, false},
		{"Basic", []string{"Basic Ym9iOnB3"}, false, false, false},
		{"Token", []string{"Token abc"}, false, false, false},
		{"empty Bearer", []string{"Bearer"}, false, false, false},
		{"Bearer and spaces", []string{"Bearer   "}, false, false, false},
		{"malformed", []string{"Bearer nope"}, true, false, false},
		{"valid form", []string{"Bearer " + valid}, true, true, false},
		{"lowercase scheme", []string{"bearer " + valid}, true, true, false},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, false, false, true},
	} {
		r, _ := http.NewRequest("GET", "/api/v1/me", nil)
		for _, h := range tc.headers {
			r.Header.Add("Authorization", h)
		}
		_, presented, ok, err := bearerToken(r)
		if presented != tc.presented || ok != tc.ok || errors.Is(err, ErrAuthorizationTwice) != tc.twice {
			t.Errorf("%s: presented %v ok %v err %v; want %v %v twice %v", tc.name, presented, ok, err, tc.presented, tc.ok, tc.twice)
		}
	}
}
