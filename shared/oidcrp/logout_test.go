package oidcrp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestEndSession: with an ID token the parameters carry id_token_hint (to go
// in a POST body), without one they name the client; no end_session_endpoint
// is an error, not a silent local-only sign-out.
func TestEndSession(t *testing.T) {
	var endpoint string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, 200, map[string]any{"issuer": srv.URL, "end_session_endpoint": endpoint})
	}))
	defer srv.Close()
	rp, err := New(Config{Issuer: srv.URL, ClientID: "agent0", ClientSecret: "s", RedirectURL: "http://rp/callback", CookieName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	endpoint = srv.URL + "/logout"
	got, q, err := rp.EndSession(t.Context(), "the.id.token", "http://rp/", "st")
	if err != nil || got != endpoint || q.Get("id_token_hint") != "the.id.token" || q.Has("client_id") || q.Get("post_logout_redirect_uri") != "http://rp/" || q.Get("state") != "st" {
		t.Fatalf("with a hint: %s %v %v", got, q, err)
	}
	_, q, err = rp.EndSession(t.Context(), "", "http://rp/", "")
	if err != nil || q.Get("client_id") != "agent0" || q.Has("id_token_hint") || q.Has("state") {
		t.Fatalf("without a hint: %v %v", q, err)
	}
	rp2, _ := New(Config{Issuer: srv.URL, ClientID: "agent0", ClientSecret: "s", RedirectURL: "http://rp/callback", CookieName: "c"})
	endpoint = ""
	if _, _, err := rp2.EndSession(t.Context(), "x", "", ""); err == nil {
		t.Fatal("no end_session_endpoint, yet no error")
	}
}
