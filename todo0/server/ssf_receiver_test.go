package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// setClaims is a well-formed SET from the trusted IdP: RISC account-disabled
// about alice, for Todo0.
func (e *env) setClaims() map[string]any {
	return map[string]any{
		"iss": e.idp.URL, "jti": randomID(), "iat": time.Now().Unix(), "aud": e.url, "txn": "t1",
		"sub_id": map[string]any{"format": "iss_sub", "iss": e.idp.URL, "sub": "00u_alice"},
		"events": map[string]any{eventAccountDisabled: map[string]any{"reason": "administrator"}},
	}
}

func (e *env) pushSET(set, contentType string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/ssf/events", strings.NewReader(set))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demo.MCPServiceClientID, demo.MCPServiceClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return decode(e.t, resp)
}

// TestSharedSignalsReceiver: Todo0 accepts only SETs the SSF way (checklist
// 9.2) and refuses everything else with an RFC 8935 error, ending nothing.
func TestSharedSignalsReceiver(t *testing.T) {
	e := newEnv(t)
	setTyp := jwtSpec{typ: "secevent+jwt"}
	mod := func(f func(c map[string]any)) map[string]any {
		c := e.setClaims()
		f(c)
		return c
	}
	replayed := sign(t, setTyp, e.setClaims())
	if st, body := e.pushSET(replayed, "application/secevent+jwt"); st != 202 {
		t.Fatalf("a well-formed SET: %d %v", st, body)
	}
	for _, r := range []struct {
		name, set, ct, code string
	}{
		{"RFC 8935 2.2: wrong content type", sign(t, setTyp, e.setClaims()), "application/jwt", "invalid_request"},
		{"RFC 8417 2.3: typ JWT (an ID token, say)", sign(t, jwtSpec{typ: "JWT"}, e.setClaims()), "", "invalid_request"},
		{"RFC 8417 2.3: no typ", sign(t, jwtSpec{typ: "-"}, e.setClaims()), "", "invalid_request"},
		{"alg none", unsigned(map[string]any{"alg": "none", "typ": "secevent+jwt", "kid": "idp-key-1"}, e.setClaims()), "", "invalid_request"},
		{"signed by a stranger", sign(t, jwtSpec{typ: "secevent+jwt", key: strangerKey}, e.setClaims()), "", "invalid_key"},
		{"unknown kid", sign(t, jwtSpec{typ: "secevent+jwt", kid: "nope"}, e.setClaims()), "", "invalid_key"},
		{"HS256 keyed with the IdP's public key", sign(t, jwtSpec{typ: "secevent+jwt", alg: jose.HS256, key: []byte("idp-public-key-bytes-0123456789ab")}, e.setClaims()), "", "invalid_request"},
		{"SSF 4.1.4: iss not the trusted IdP", sign(t, setTyp, mod(func(c map[string]any) { c["iss"] = "https://evil.example" })), "", "invalid_issuer"},
		{"SSF 4.1.6: aud another receiver", sign(t, setTyp, mod(func(c map[string]any) { c["aud"] = "https://other.example" })), "", "invalid_audience"},
		{"SSF 4.1.2: a sub claim", sign(t, setTyp, mod(func(c map[string]any) { c["sub"] = "00u_alice" })), "", "invalid_request"},
		{"SSF 4.1.7: an exp claim", sign(t, setTyp, mod(func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() })), "", "invalid_request"},
		{"iat an hour old", sign(t, setTyp, mod(func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() })), "", "invalid_request"},
		{"iat in the future", sign(t, setTyp, mod(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() })), "", "invalid_request"},
		{"no jti", sign(t, setTyp, mod(func(c map[string]any) { delete(c, "jti") })), "", "invalid_request"},
		{"replayed jti", replayed, "", "invalid_request"},
		{"SSF 4.2.1: two events", sign(t, setTyp, mod(func(c map[string]any) {
			c["events"] = map[string]any{eventAccountDisabled: map[string]any{}, eventSessionRevoked: map[string]any{}}
		})), "", "invalid_request"},
		{"an event Todo0 does not act on", sign(t, setTyp, mod(func(c map[string]any) {
			c["events"] = map[string]any{"https://schemas.openid.net/secevent/caep/event-type/credential-change": map[string]any{}}
		})), "", "invalid_request"},
		{"sub_id of another IdP", sign(t, setTyp, mod(func(c map[string]any) {
			c["sub_id"] = map[string]any{"format": "iss_sub", "iss": "https://evil.example", "sub": "00u_alice"}
		})), "", "invalid_request"},
		{"sub_id not iss_sub", sign(t, setTyp, mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "opaque", "id": "x"} })), "", "invalid_request"},
	} {
		t.Run(r.name, func(t *testing.T) {
			ct := r.ct
			if ct == "" {
				ct = "application/secevent+jwt"
			}
			st, body := e.pushSET(r.set, ct)
			if st != 400 || body["err"] != r.code || body["description"] == "" {
				t.Fatalf("got %d %v, want 400 err=%s", st, body, r.code)
			}
		})
	}
}

// TestSharedSignalsEndLiveTokens: after a SET about alice, her live access
// tokens are inactive at introspection, bob's are not, and a token issued
// afterwards is (checklist 9.2).
func TestSharedSignalsEndLiveTokens(t *testing.T) {
	e := newEnv(t)
	token := func(sub string) string {
		c := e.claims()
		c["sub"] = sub
		resp := e.redeem(sign(t, jwtSpec{}, c))
		body := decode(t, resp)
		at, _ := body["access_token"].(string)
		if at == "" {
			t.Fatalf("redeem for %s: %v", sub, body)
		}
		return at
	}
	alice, bob := token("00u_alice"), token("00u_bob")
	if got := e.introspect(alice); got["active"] != true || got["sub"] == nil {
		t.Fatalf("alice's token before the signal: %v", got)
	}
	for _, ev := range []string{eventAccountDisabled, eventSessionRevoked} {
		c := e.setClaims()
		c["events"] = map[string]any{ev: map[string]any{}}
		if st, body := e.pushSET(sign(t, jwtSpec{typ: "secevent+jwt"}, c), "application/secevent+jwt"); st != 202 {
			t.Fatalf("%s: %d %v", ev, st, body)
		}
		if got := e.introspect(alice); got["active"] != false || len(got) != 1 {
			t.Fatalf("after %s alice's token introspects as %v", ev, got)
		}
		alice = token("00u_alice") // a new one for the next event
	}
	if got := e.introspect(alice); got["active"] != true {
		t.Fatalf("a token issued after the signal: %v", got)
	}
	if got := e.introspect(bob); got["active"] != true {
		t.Fatalf("bob's token after alice's signal: %v", got)
	}
	// Introspection is for Todo0's service clients only, and says nothing
	// about tokens Todo0 did not issue.
	req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth2/introspect", strings.NewReader(url.Values{"token": {bob}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, resp, http.StatusForbidden, oauth.ErrAccessDenied)
	if got := e.introspect(sign(t, jwtSpec{}, e.claims())); got["active"] != false {
		t.Fatalf("an ID-JAG introspects as %v", got)
	}
}
