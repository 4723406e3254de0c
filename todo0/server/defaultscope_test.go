package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// IDJAG 3: scope is optional in an ID-JAG. Without it Todo0 grants
// Config.DefaultScopes (todos.read unless configured); a scope parameter in
// the jwt-bearer request narrows within them and cannot widen them.
func TestIDJAGWithoutScopeGetsDefaultScopes(t *testing.T) {
	noScope := func(e *env) string {
		c := e.claims()
		delete(c, "scope")
		return sign(t, jwtSpec{}, c)
	}
	e := newEnv(t)
	m := decode(t, e.redeem(noScope(e)))
	if m["scope"] != demo.ScopeRead || m["access_token"] == nil {
		t.Fatalf("no scope claim: %v", m)
	}
	asks := func(e *env, scope string) *http.Response {
		return e.post(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {noScope(e)}, "scope": {scope}}, true)
	}
	wantOAuthError(t, asks(e, demo.ScopeWrite), http.StatusBadRequest, oauth.ErrInvalidScope)

	both := newEnv(t, func(c *Config) { c.DefaultScopes = demo.Todo0Scopes })
	if m := decode(t, both.redeem(noScope(both))); m["scope"] != "todos.read todos.write" {
		t.Fatalf("configured defaults: %v", m)
	}
	if m := decode(t, asks(both, demo.ScopeWrite)); m["scope"] != demo.ScopeWrite {
		t.Fatalf("narrowed: %v", m)
	}
}
