package oidcrp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// fakeIdP serves discovery only; the token endpoint refuses everything.
func fakeIdP(t *testing.T, issSupported bool) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			oauth.WriteJSON(w, 200, map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize",
				"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks",
				"authorization_response_iss_parameter_supported": issSupported})
		default:
			oauth.WriteError(w, r, oauth.InvalidGrant("test IdP"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestRP(t *testing.T, idp *httptest.Server) *RP {
	rp, err := New(Config{Issuer: idp.URL, ClientID: "c", ClientSecret: "s", RedirectURL: "http://rp.test/callback", CookieName: "rp_login"})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// callback starts a sign-in and returns the redirect back with query q
// (state filled in) and the browser's cookie.
func callback(t *testing.T, rp *RP, q url.Values) error {
	w := httptest.NewRecorder()
	rp.StartLogin(w, httptest.NewRequest("GET", "/login", nil), "/")
	loc, _ := url.Parse(w.Header().Get("Location"))
	state := loc.Query().Get("state")
	q.Set("state", state)
	r := httptest.NewRequest("GET", "/callback?"+q.Encode(), nil)
	r.AddCookie(&http.Cookie{Name: "rp_login", Value: state})
	_, _, err := rp.FinishLogin(httptest.NewRecorder(), r)
	return err
}

// RFC 9207 2.4: an IdP that advertises authorization_response_iss_parameter_supported
// always sends iss, so a response without it is refused before the code is
// redeemed; a wrong iss is refused always.
func TestCallbackWithoutIssRefusedWhenAdvertised(t *testing.T) {
	idp := fakeIdP(t, true)
	rp := newTestRP(t, idp)
	if err := callback(t, rp, url.Values{"code": {"c"}}); err == nil || !strings.Contains(err.Error(), "RFC 9207") {
		t.Fatalf("callback without iss: %v", err)
	}
	if err := callback(t, rp, url.Values{"code": {"c"}, "iss": {"http://mix-up.example"}}); err == nil || !strings.Contains(err.Error(), "RFC 9207") {
		t.Fatalf("callback with a wrong iss: %v", err)
	}
	if err := callback(t, rp, url.Values{"code": {"c"}, "iss": {idp.URL}}); err == nil || !strings.Contains(err.Error(), "code exchange") {
		t.Fatalf("callback with the right iss should reach the code exchange: %v", err)
	}
	// An IdP that does not advertise it may omit iss.
	old := newTestRP(t, fakeIdP(t, false))
	if err := callback(t, old, url.Values{"code": {"c"}}); err == nil || !strings.Contains(err.Error(), "code exchange") {
		t.Fatalf("callback without iss from an IdP without RFC 9207: %v", err)
	}
}

// Unauthenticated growth: sign-ins in progress are bounded (the oldest gives
// way) and expire, without a scan of every entry per request.
func TestPendingLoginsBoundedAndExpire(t *testing.T) {
	var s pendingStore
	t0 := time.Now()
	for i := range maxPending + 500 {
		s.add("s"+strconv.Itoa(i), pendingLogin{expires: t0.Add(pendingTTL)}, t0)
	}
	if s.len() != maxPending || len(s.order)-s.head != maxPending {
		t.Fatalf("%d pending, queue %d; want %d", s.len(), len(s.order)-s.head, maxPending)
	}
	if _, ok := s.take("s0"); ok {
		t.Fatal("the oldest sign-in was not the one evicted")
	}
	if _, ok := s.take("s" + strconv.Itoa(maxPending+499)); !ok {
		t.Fatal("the newest sign-in is gone")
	}
	later := t0.Add(pendingTTL + time.Second)
	s.add("new", pendingLogin{expires: later.Add(pendingTTL)}, later)
	if s.len() != 1 {
		t.Fatalf("%d pending after every old one expired, want 1", s.len())
	}
}

// The cost of starting a sign-in does not grow with the sign-ins in
// progress (compare -bench with 1k and 10k pending: flat).
func BenchmarkStartLogin(b *testing.B) {
	for _, n := range []int{1000, maxPending} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var s pendingStore
			now := time.Now()
			for i := range n {
				s.add("p"+strconv.Itoa(i), pendingLogin{expires: now.Add(pendingTTL)}, now)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.add("b"+strconv.Itoa(i), pendingLogin{expires: now.Add(pendingTTL)}, now)
			}
		})
	}
}

// The pending sign-in cookie is Secure when the RP's public URL is https,
// even on a plain-HTTP request from a TLS-terminating proxy.
func TestLoginCookieSecureFromPublicScheme(t *testing.T) {
	idp := fakeIdP(t, true)
	rp, err := New(Config{Issuer: idp.URL, ClientID: "c", ClientSecret: "s", RedirectURL: "https://rp.example/callback", CookieName: "rp_login"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	rp.StartLogin(w, httptest.NewRequest("GET", "/login", nil), "/")
	if c := w.Result().Cookies(); len(c) != 1 || !c[0].Secure {
		t.Fatalf("cookies %v", c)
	}
}
