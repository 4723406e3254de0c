package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
)

// jsonOf is v as compact JSON, for comparing claims and response fields.
func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// IDJAG 4.3.3 and RFC 9396: authorization_details through the exchange.
func TestExchangeAuthorizationDetails(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	for _, tc := range []struct {
		name, details string
		status        int
		code          string
		granted       string // the ID-JAG's and the response's authorization_details
		rule          string
	}{
		// granted as asked: within the seeded connection's policy
		{name: "allowed as asked", details: `[{"type":"todo0_todos","actions":["list","create"]}]`, status: 200,
			granted: `[{"actions":["list","create"],"type":"todo0_todos"}]`},
		// narrowed: the connection does not allow delete, nor another type
		{name: "narrowed by the connection", details: `[{"type":"todo0_todos","actions":["list","delete"]},{"type":"payroll"}]`, status: 200,
			granted: `[{"actions":["list"],"type":"todo0_todos"}]`},
		// no actions asked: the connection's actions are granted
		{name: "no actions named", details: `[{"type":"todo0_todos","locations":["` + "http://localhost:7004/mcp" + `"]}]`, status: 200,
			granted: `[{"actions":["list","create","complete"],"locations":["http://localhost:7004/mcp"],"type":"todo0_todos"}]`},
		// RFC 9396 5: nothing allowed at all is refused, as a scope would be
		{name: "nothing allowed", details: `[{"type":"todo0_todos","actions":["delete"]}]`, status: 400, code: oauth.ErrInvalidAuthorizationDetails, rule: "narrowed by policy"},
		{name: "unknown type only", details: `[{"type":"payroll"}]`, status: 400, code: oauth.ErrInvalidAuthorizationDetails, rule: "narrowed by policy"},
		// RFC 9396 2: a JSON array of objects with a type
		{name: "not JSON", details: `todos please`, status: 400, code: oauth.ErrInvalidAuthorizationDetails, rule: "JSON array"},
		{name: "an object, not an array", details: `{"type":"todo0_todos"}`, status: 400, code: oauth.ErrInvalidAuthorizationDetails, rule: "JSON array"},
		{name: "no type", details: `[{"actions":["list"]}]`, status: 400, code: oauth.ErrInvalidAuthorizationDetails, rule: "JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := e.exchangeForm(alice.IDToken)
			f.Set("authorization_details", tc.details)
			mark := e.auditMark(t)
			got := e.post("/oauth2/token", f, agent0Basic)
			if got.Status != tc.status || got.str("error") != tc.code {
				t.Fatalf("got %d %s, want %d %s", got.Status, got.Body, tc.status, tc.code)
			}
			rec := e.auditSince(t, "token_exchange", mark)
			if tc.status != 200 {
				if rec.Outcome != "denied" || rec.Error != tc.code || !strings.Contains(rec.Rule, tc.rule) {
					t.Errorf("audit %+v, want denied under a rule containing %q", rec, tc.rule)
				}
				return
			}
			// IDJAG 4.3.3: the granted details go in the ID-JAG and, as they
			// were requested, in the response
			if r := jsonOf(got.JSON["authorization_details"]); r != tc.granted {
				t.Errorf("response authorization_details %s, want %s", r, tc.granted)
			}
			_, claims := peek(t, got.str("access_token"))
			if c := jsonOf(claims["authorization_details"]); c != tc.granted {
				t.Errorf("ID-JAG authorization_details %s, want %s", c, tc.granted)
			}
			if rec.Outcome != "granted" || jsonOf(rec.Detail["authorization_details"]) != tc.granted {
				t.Errorf("audit %+v does not record the granted details", rec)
			}
		})
	}
	t.Run("none asked, none sent", func(t *testing.T) {
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic)
		_, claims := peek(t, got.str("access_token"))
		if _, ok := got.JSON["authorization_details"]; ok || claims["authorization_details"] != nil {
			t.Fatalf("authorization_details appeared unasked: %s", got.Body)
		}
	})
	t.Run("a connection without a policy allows none", func(t *testing.T) {
		setConn(t, e, ConnectionInput{AuthorizationDetails: ptr(rar0())}, ConnectionInput{AuthorizationDetails: ptr(seededDetails())})
		f := e.exchangeForm(alice.IDToken)
		f.Set("authorization_details", `[{"type":"todo0_todos","actions":["list"]}]`)
		if got := e.post("/oauth2/token", f, agent0Basic); got.str("error") != oauth.ErrInvalidAuthorizationDetails {
			t.Fatalf("got %d %s", got.Status, got.Body)
		}
	})
}

// RFC 8693 2.1 and 4.1: the actor token's shape, its validation, and the act claim.
func TestExchangeActorToken(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := jose.JSONWebKey{Key: other, KeyID: e.agentKey.KeyID, Algorithm: "ES256"}
	actor := func(k jose.JSONWebKey, mod func(*jwt.Claims)) string {
		c := jwt.Claims{Issuer: demo.Agent0IdPClientID, Subject: "agent0-assistant", Audience: jwt.Audience{e.ts.URL},
			IssuedAt: jwt.NewNumericDate(time.Now()), Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute))}
		if mod != nil {
			mod(&c)
		}
		return e.sign(k, "JWT", c)
	}
	for _, tc := range []struct {
		name       string
		tok, typ   string
		status     int
		code, rule string
	}{
		{name: "valid actor token", tok: actor(e.agentKey, nil), typ: oauth.TokenTypeJWT, status: 200},
		// RFC 8693 2.1: actor_token_type is REQUIRED with actor_token
		{name: "actor_token without actor_token_type", tok: actor(e.agentKey, nil), status: 400, code: oauth.ErrInvalidRequest, rule: "RFC 8693 2.1 actor_token_type required"},
		// ... and MUST NOT be sent without one
		{name: "actor_token_type without actor_token", typ: oauth.TokenTypeJWT, status: 400, code: oauth.ErrInvalidRequest, rule: "RFC 8693 2.1 actor_token_type"},
		{name: "unsupported actor_token_type", tok: actor(e.agentKey, nil), typ: oauth.TokenTypeIDToken, status: 400, code: oauth.ErrInvalidRequest, rule: "RFC 8693 2.1 actor_token_type"},
		// the actor is vouched for by the client's own registered key
		{name: "signed by another key", tok: actor(otherKey, nil), typ: oauth.TokenTypeJWT, status: 400, code: oauth.ErrInvalidGrant, rule: "actor_token validated"},
		{name: "issued by another client", tok: actor(e.agentKey, func(c *jwt.Claims) { c.Issuer = demo.Todo0IdPClientID }), typ: oauth.TokenTypeJWT, status: 400, code: oauth.ErrInvalidGrant, rule: "actor_token validated"},
		{name: "for another audience", tok: actor(e.agentKey, func(c *jwt.Claims) { c.Audience = jwt.Audience{"http://todo0.example"} }), typ: oauth.TokenTypeJWT, status: 400, code: oauth.ErrInvalidGrant, rule: "actor_token validated"},
		{name: "expired", tok: actor(e.agentKey, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Hour)) }), typ: oauth.TokenTypeJWT, status: 400, code: oauth.ErrInvalidGrant, rule: "actor_token validated"},
		{name: "no sub", tok: actor(e.agentKey, func(c *jwt.Claims) { c.Subject = "" }), typ: oauth.TokenTypeJWT, status: 400, code: oauth.ErrInvalidGrant, rule: "actor_token validated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := e.exchangeForm(alice.IDToken)
			if tc.tok != "" {
				f.Set("actor_token", tc.tok)
			}
			if tc.typ != "" {
				f.Set("actor_token_type", tc.typ)
			}
			mark := e.auditMark(t)
			got := e.post("/oauth2/token", f, agent0Basic)
			if got.Status != tc.status || got.str("error") != tc.code {
				t.Fatalf("got %d %s, want %d %s", got.Status, got.Body, tc.status, tc.code)
			}
			rec := e.auditSince(t, "token_exchange", mark)
			if tc.status != 200 {
				if rec.Outcome != "denied" || !strings.Contains(rec.Rule, tc.rule) {
					t.Errorf("audit %+v, want denied under %q", rec, tc.rule)
				}
				return
			}
			// RFC 8693 4.1: the actor is recorded in the ID-JAG and the audit log
			_, claims := peek(t, got.str("access_token"))
			if a := jsonOf(claims["act"]); a != `{"client_id":"agent0","sub":"agent0-assistant"}` {
				t.Errorf("act = %s", a)
			}
			if rec.Detail["actor"] != "agent0-assistant" {
				t.Errorf("audit %+v does not name the actor", rec.Detail)
			}
		})
	}
	t.Run("no actor, no act", func(t *testing.T) {
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic)
		if _, claims := peek(t, got.str("access_token")); claims["act"] != nil {
			t.Fatalf("act without an actor token: %v", claims["act"])
		}
	})
}

// The admin API stores and validates a connection's authorization_details policy.
func TestConnectionAuthorizationDetailsPolicy(t *testing.T) {
	e := newEnv(t)
	got := e.mustAdmin(http.MethodGet, "/connections/mc_agent0_todo0", nil)
	if d := jsonOf(got.JSON["authorization_details"]); d != `[{"actions":["list","create","complete"],"type":"todo0_todos"}]` {
		t.Fatalf("seeded policy %s", d)
	}
	if r := e.admin(http.MethodPatch, "/connections/mc_agent0_todo0", map[string]any{"authorization_details": []map[string]any{{"actions": []string{"list"}}}}); r.Status != 400 {
		t.Fatalf("a policy entry without type: %d %s", r.Status, r.Body)
	}
}

func rar0() []rar.Allowed { return []rar.Allowed{} }

func seededDetails() []rar.Allowed {
	return []rar.Allowed{{Type: demo.Todo0TodosDetailType, Actions: demo.Agent0Todo0DetailActions}}
}
