package check_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/check"
	"github.com/xaa-sandbox/xaa-sandbox/internal/jwtforge"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// brokenAS is a small resource authorization server that redeems ID-JAGs
// correctly unless one of its rules is broken on purpose. The checker must
// name exactly the rules a break violates.
type brokenAS struct {
	srv    *httptest.Server
	idp    check.Signer
	client *jose.JSONWebKey // the client's key for private_key_jwt, when it has one
	breaks map[string]bool

	mu   sync.Mutex
	seen map[string]bool
}

const (
	brokenClient   = "rp-client"
	brokenSecret   = "rp-secret"
	brokenResource = "https://mcp.example/mcp"
	brokenScope    = "notes.read"
)

type keySource struct{ k jose.JSONWebKey }

func (s keySource) Key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	if kid != s.k.KeyID {
		return nil, errors.New("unknown kid")
	}
	pub := s.k.Public()
	return &pub, nil
}

func newBrokenAS(t *testing.T, idp check.Signer, breaks ...string) *brokenAS {
	b := &brokenAS{idp: idp, breaks: map[string]bool{}, seen: map[string]bool{}}
	for _, br := range breaks {
		b.breaks[br] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", b.metadata)
	mux.HandleFunc("POST /token", b.token)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *brokenAS) metadata(w http.ResponseWriter, r *http.Request) {
	iss := b.srv.URL
	if b.breaks["metadata-issuer"] {
		iss += "/"
	}
	oauth.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer": iss, "token_endpoint": b.srv.URL + "/token",
		"grant_types_supported":                  []string{oauth.GrantTypeJWTBearer},
		"authorization_grant_profiles_supported": []string{oauth.GrantProfileIDJAG},
		"token_endpoint_auth_methods_supported":  b.authMethods(),
	})
}

func (b *brokenAS) authMethods() []string {
	if b.client != nil {
		return []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	}
	return []string{"client_secret_basic", "client_secret_post"}
}

// assertionClient authenticates a private_key_jwt client assertion.
func (b *brokenAS) assertionClient(r *http.Request) (string, bool) {
	raw := r.PostForm.Get("client_assertion")
	if b.breaks["client-assertion-unverified"] {
		_, c, err := jwtverify.Peek(raw)
		sub, _ := c["sub"].(string)
		return sub, err == nil
	}
	v := jwtverify.Verifier{Issuers: map[string]jwtverify.KeySource{brokenClient: keySource{*b.client}}, Audience: b.srv.URL + "/token", Required: []string{"sub", "jti"}}
	t, err := v.Verify(r.Context(), raw)
	if err != nil || t.Claims.Subject != brokenClient {
		return "", false
	}
	return brokenClient, true
}

func (b *brokenAS) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauth.WriteError(w, r, oauth.InvalidRequest("bad form"))
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if b.client != nil && r.PostForm.Has("client_assertion") {
		var ok bool
		if id, ok = b.assertionClient(r); !ok || id != brokenClient {
			oauth.WriteError(w, r, oauth.InvalidClient(false, "bad client assertion"))
			return
		}
	} else if id != brokenClient || (subtle.ConstantTimeCompare([]byte(secret), []byte(brokenSecret)) != 1 && !b.breaks["client-any-secret"]) {
		oauth.WriteError(w, r, oauth.InvalidClient(basic && !b.breaks["client-400"], "bad client"))
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != oauth.GrantTypeJWTBearer {
		oauth.WriteError(w, r, oauth.Errorf(oauth.ErrUnsupportedGrantType, "no"))
		return
	}
	raw := r.PostForm.Get("assertion")
	if raw == "" {
		oauth.WriteError(w, r, oauth.InvalidRequest("assertion missing"))
		return
	}
	claims, err := b.verify(r.Context(), raw)
	if err != nil {
		if b.breaks["error-code"] {
			oauth.WriteError(w, r, oauth.InvalidRequest("%v", err))
			return
		}
		oauth.WriteError(w, r, oauth.InvalidGrant("%v", err))
		return
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	if !b.breaks["client-id"] && str("client_id") != id {
		oauth.WriteError(w, r, oauth.InvalidGrant("client_id"))
		return
	}
	if res := str("resource"); res != "" && res != brokenResource && !b.breaks["resource"] {
		oauth.WriteError(w, r, oauth.InvalidGrant("resource"))
		return
	}
	granted := oauth.SplitScope(str("scope"))
	if !b.breaks["scope"] {
		for _, sc := range granted {
			if sc != brokenScope {
				oauth.WriteError(w, r, oauth.InvalidGrant("unknown scope"))
				return
			}
		}
		if req := oauth.SplitScope(r.PostForm.Get("scope")); len(req) > 0 {
			granted = oauth.Intersect(req, granted)
		}
	} else if req := r.PostForm.Get("scope"); req != "" {
		granted = oauth.SplitScope(req)
	}
	if !b.breaks["replay"] {
		jti := str("jti")
		b.mu.Lock()
		seen := b.seen[jti]
		b.mu.Unlock()
		if b.breaks["replay-race"] {
			time.Sleep(20 * time.Millisecond) // check, then record: the classic race
		}
		if seen {
			oauth.WriteError(w, r, oauth.InvalidGrant("replayed"))
			return
		}
		b.mu.Lock()
		if b.seen[jti] && !b.breaks["replay-race"] {
			b.mu.Unlock()
			oauth.WriteError(w, r, oauth.InvalidGrant("replayed"))
			return
		}
		b.seen[jti] = true
		b.mu.Unlock()
	}
	resp := map[string]any{"access_token": "opaque-" + str("jti"), "token_type": "Bearer", "expires_in": 300, "scope": oauth.JoinScope(granted)}
	if b.breaks["refresh-token"] {
		resp["refresh_token"] = "rt"
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

func (b *brokenAS) verify(ctx context.Context, raw string) (map[string]any, error) {
	if b.breaks["signature"] {
		// Everything is checked but the signature: the token is re-signed
		// with the real key before the usual checks.
		hdr, claims, err := jwtverify.Peek(raw)
		if err != nil {
			return nil, err
		}
		payload, _ := json.Marshal(claims)
		hdr["kid"] = b.idp.Key.KeyID
		if raw, err = jwtforge.Sign(jose.ES256, b.idp.Key.Key, hdr, payload); err != nil {
			return nil, err
		}
	}
	v := jwtverify.Verifier{
		Typ: oauth.TypIDJAG, Issuers: map[string]jwtverify.KeySource{b.idp.Issuer: keySource{*b.idp.Key}},
		Audience: b.srv.URL, Skew: 30 * time.Second, MaxAge: 10 * time.Minute, Required: []string{"sub", "client_id", "jti", "iat"},
	}
	if b.breaks["typ"] {
		v.Typ = ""
	}
	if b.breaks["skew"] {
		v.Skew = time.Hour
	}
	if b.breaks["aud-prefix"] || b.breaks["aud-token-endpoint"] {
		v.Audience = ""
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	raws, _ := json.Marshal(tok.Raw)
	_ = json.Unmarshal(raws, &claims)
	if v.Audience == "" {
		aud, _ := claims["aud"].(string)
		if one, ok := claims["aud"].([]any); ok && len(one) == 1 {
			aud, _ = one[0].(string)
		}
		ok := aud == b.srv.URL ||
			(b.breaks["aud-prefix"] && strings.HasPrefix(aud, b.srv.URL)) ||
			(b.breaks["aud-token-endpoint"] && aud == b.srv.URL+"/token")
		if !ok {
			return nil, errors.New("aud")
		}
	}
	return claims, nil
}

func testIdP(t *testing.T) check.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return check.Signer{Issuer: "https://idp.example", Key: &jose.JSONWebKey{Key: k, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}
}

// Each broken rule of an authorization server is reported by name, and
// nothing else is: the verdicts point at what to fix.
func TestASReportsBrokenRules(t *testing.T) {
	idp := testIdP(t)
	for _, tc := range []struct {
		breaks string
		fail   []string
	}{
		{"", nil},
		{"metadata-issuer", []string{"as.metadata.issuer"}},
		{"typ", []string{"as.idjag.typ-jwt", "as.idjag.typ-missing", "as.idjag.typ-at-jwt"}},
		{"signature", []string{"as.idjag.alg-none", "as.idjag.alg-hs256", "as.idjag.kid-unknown", "as.idjag.signature-wrong-key", "as.idjag.signature-tampered"}},
		{"aud-prefix", []string{"as.idjag.aud-prefix", "as.idjag.aud-trailing-slash", "as.idjag.aud-token-endpoint"}}, // the token endpoint starts with the issuer
		{"aud-token-endpoint", []string{"as.idjag.aud-token-endpoint"}},
		{"client-id", []string{"as.idjag.client-id-other"}}, // a missing client_id is still a missing required claim
		{"skew", []string{"as.idjag.exp-past", "as.idjag.nbf-future", "as.idjag.iat-future", "as.idjag.iat-old"}},
		{"replay", []string{"as.idjag.jti-replay", "as.idjag.jti-replay-race"}},
		{"replay-race", []string{"as.idjag.jti-replay-race"}},
		{"resource", []string{"as.idjag.resource-foreign"}},
		{"scope", []string{"as.idjag.scope-unknown", "as.request.scope-escalation"}},
		{"client-any-secret", []string{"as.client.wrong-secret-client_secret_basic", "as.client.wrong-secret-client_secret_post"}},
		{"client-400", []string{"as.client.wrong-secret-client_secret_basic", "as.client.unknown-client_secret_basic"}},
		{"refresh-token", []string{"as.redeem.no-refresh-token"}},
	} {
		t.Run(tc.breaks, func(t *testing.T) {
			var breaks []string
			if tc.breaks != "" {
				breaks = []string{tc.breaks}
			}
			as := newBrokenAS(t, idp, breaks...)
			rep, err := (&check.AS{Issuer: as.srv.URL, ClientID: brokenClient, ClientSecret: brokenSecret,
				Resource: brokenResource, Scope: brokenScope, IdP: idp}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, res := range rep.Results {
				if res.Verdict == check.Fail {
					failed = append(failed, res.ID)
				}
			}
			slices.Sort(failed)
			want := slices.Clone(tc.fail)
			slices.Sort(want)
			if !slices.Equal(failed, want) {
				t.Errorf("rules not passed: %v\nwant exactly:      %v", failed, want)
			}
		})
	}
}

// A server that answers bad assertions with the wrong error code refuses
// them, but every battery rule still fails: clients rely on invalid_grant.
func TestASWrongErrorCode(t *testing.T) {
	idp := testIdP(t)
	as := newBrokenAS(t, idp, "error-code")
	rep, err := (&check.AS{Issuer: as.srv.URL, ClientID: brokenClient, ClientSecret: brokenSecret, Resource: brokenResource, Scope: brokenScope, IdP: idp}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Result("as.idjag.typ-jwt")
	if res == nil || res.Verdict != check.Fail || !strings.Contains(res.Got, "invalid_request") || !strings.Contains(res.Detail, "not with 400 invalid_grant") {
		t.Errorf("typ-jwt = %+v", res)
	}
	if !rep.Failed() {
		t.Error("Failed() = false")
	}
}

// private_key_jwt is used when the metadata lists it and the checker has the
// client's key; a server that does not verify client assertions is caught.
func TestASPrivateKeyJWT(t *testing.T) {
	idp, client := testIdP(t), testIdP(t)
	for _, tc := range []struct {
		breaks string
		fail   []string
	}{
		{"", nil},
		{"client-assertion-unverified", []string{"as.client.wrong-key-private_key_jwt"}}, // an unknown client is still unknown
	} {
		var breaks []string
		if tc.breaks != "" {
			breaks = []string{tc.breaks}
		}
		as := newBrokenAS(t, idp, breaks...)
		as.client = client.Key
		rep, err := (&check.AS{Issuer: as.srv.URL, ClientID: brokenClient, ClientSecret: brokenSecret, ClientKey: client.Key,
			Resource: brokenResource, Scope: brokenScope, IdP: idp}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Result("as.redeem.auth-private_key_jwt") == nil {
			t.Fatalf("%q: private_key_jwt was not used", tc.breaks)
		}
		var failed []string
		for _, res := range rep.Results {
			if res.Verdict == check.Fail {
				failed = append(failed, res.ID)
			}
		}
		if !slices.Equal(failed, tc.fail) {
			t.Errorf("%q: rules failed %v, want %v", tc.breaks, failed, tc.fail)
		}
	}
}
