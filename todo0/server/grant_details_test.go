package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// IDJAG 4.4.1: what the ID-JAG grants (resource, authorization_details,
// act) reaches the access token and the token response; what Todo0 does not
// understand refuses the ID-JAG (EMA 7.6.2).
func TestRedeemGrantedDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mcp := demo.Todo0MCPURL + demo.MCPPath
	for _, tc := range []struct {
		name         string
		mod          func(map[string]any)
		status       int
		code         string
		resource     string // response resource and access token aud
		details, act string // JSON in the response / access token
	}{
		// IDJAG 4.4.1: the granted resource is in the response
		{name: "resource as a string", mod: func(c map[string]any) {}, status: 200, resource: mcp, details: "null", act: "null"},
		// ID-JAG section 3: resource may be an array of URIs
		{name: "resource as a one-element array", mod: func(c map[string]any) { c["resource"] = []string{mcp} }, status: 200, resource: mcp, details: "null", act: "null"},
		{name: "no resource: the default", mod: func(c map[string]any) { delete(c, "resource") }, status: 200, resource: mcp, details: "null", act: "null"},
		{name: "two resources", mod: func(c map[string]any) { c["resource"] = []string{mcp, mcp + "2"} }, status: 400, code: oauth.ErrInvalidGrant},
		{name: "array with a foreign resource", mod: func(c map[string]any) { c["resource"] = []string{"https://other.example/mcp"} }, status: 400, code: oauth.ErrInvalidGrant},
		{name: "resource not a URI or list", mod: func(c map[string]any) { c["resource"] = 7 }, status: 400, code: oauth.ErrInvalidGrant},
		// RFC 9396 / IDJAG 4.4.1: details pass through to token and response
		{name: "authorization_details granted", mod: func(c map[string]any) {
			c["authorization_details"] = []map[string]any{{"type": "todo0_todos", "actions": []string{"list"}}}
		}, status: 200, resource: mcp, details: `[{"actions":["list"],"type":"todo0_todos"}]`, act: "null"},
		{name: "unknown detail type", mod: func(c map[string]any) { c["authorization_details"] = []map[string]any{{"type": "payroll"}} }, status: 400, code: oauth.ErrInvalidGrant},
		{name: "unknown action", mod: func(c map[string]any) {
			c["authorization_details"] = []map[string]any{{"type": "todo0_todos", "actions": []string{"archive"}}}
		}, status: 400, code: oauth.ErrInvalidGrant},
		{name: "details not an array", mod: func(c map[string]any) { c["authorization_details"] = map[string]any{"type": "todo0_todos"} }, status: 400, code: oauth.ErrInvalidGrant},
		// RFC 8693 4.1: the actor stays on record in the access token
		{name: "act carried", mod: func(c map[string]any) { c["act"] = map[string]any{"sub": "agent0-assistant", "client_id": "agent0"} },
			status: 200, resource: mcp, details: "null", act: `{"client_id":"agent0","sub":"agent0-assistant"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.claims()
			tc.mod(c)
			resp := e.redeem(sign(t, jwtSpec{}, c))
			m := decode(t, resp)
			if resp.StatusCode != tc.status || (tc.code != "" && m["error"] != tc.code) {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, m, tc.status, tc.code)
			}
			if tc.status != http.StatusOK {
				return
			}
			if m["resource"] != tc.resource {
				t.Errorf("response resource %v, want %s", m["resource"], tc.resource)
			}
			if d := jsonOf(m["authorization_details"]); d != tc.details {
				t.Errorf("response authorization_details %s, want %s", d, tc.details)
			}
			v := jwtverify.Verifier{Typ: oauth.TypAccessToken, Issuers: map[string]jwtverify.KeySource{e.url: e.s.keys}, Audience: tc.resource}
			var at struct {
				Details any `json:"authorization_details"`
				Act     any `json:"act"`
			}
			if _, err := v.Verify(context.Background(), m["access_token"].(string), &at); err != nil {
				t.Fatalf("access token: %v", err)
			}
			if d := jsonOf(at.Details); d != tc.details {
				t.Errorf("access token authorization_details %s, want %s", d, tc.details)
			}
			if a := jsonOf(at.Act); a != tc.act {
				t.Errorf("access token act %s, want %s", a, tc.act)
			}
		})
	}
}
