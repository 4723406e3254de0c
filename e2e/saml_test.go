package e2e

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestSAMLRequestingApp plays Wiki0, the SAML requesting app, end to end:
// an SP-initiated SAML Web SSO at Acme, the assertion from the POSTed
// Response as the subject token of the exchange (subject_token_type saml2),
// and the ID-JAG redeemed at Todo0. Todo0 sees the same user as through
// Agent0's OIDC sign-in. Refusals: a user the wiki0 -> Todo0 connection does
// not cover, and the assertion presented by another client.
func TestSAMLRequestingApp(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)

	assertionFor := func(t *testing.T, user string) string {
		t.Helper()
		b := webclient.New()
		if _, err := b.AuthorizationCode(c, authorizeURL(sb, nil), sb.Agent0URL+"/callback", user, user+"-demo"); err != nil {
			t.Fatal(err) // an Acme session, made the usual way
		}
		p, err := b.Get(c, sb.IdPURL+"/saml/sso?"+url.Values{"SAMLRequest": {authnRequest(t)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		target, vals, err := p.Form(demo.Wiki0ACSURL)
		if err != nil || target != demo.Wiki0ACSURL {
			t.Fatalf("SSO page (%d) has no POST form to Wiki0's ACS: %v\n%s", p.Status, err, p.Body)
		}
		raw, err := base64.StdEncoding.DecodeString(vals.Get("SAMLResponse"))
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		a := doc.FindElement("/Response/Assertion")
		if a == nil {
			t.Fatal("no Assertion in the SAML Response")
		}
		out := etree.NewDocument()
		out.SetRoot(a.Copy())
		x, err := out.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(x) // RFC 8693 3: base64url
	}
	exchange := func(t *testing.T, subject, clientID, secret string) map[string]any {
		return postForm(t, sb.IdPURL+"/oauth2/token", clientID, secret, url.Values{
			"grant_type": {oauth.GrantTypeTokenExchange}, "requested_token_type": {oauth.TokenTypeIDJAG},
			"audience": {sb.Todo0URL}, "resource": {sb.MCPURL + demo.MCPPath}, "scope": {demo.ScopeRead},
			"subject_token": {subject}, "subject_token_type": {oauth.TokenTypeSAML2},
		})
	}

	aliceAssertion := assertionFor(t, "alice")
	x := exchange(t, aliceAssertion, demo.Wiki0IdPClientID, demo.Wiki0IdPClientSecret)
	jag, _ := x["access_token"].(string)
	if jag == "" {
		t.Fatalf("exchange: %v", x)
	}
	at := postForm(t, sb.Todo0URL+"/oauth2/token", demo.Wiki0Todo0ClientID, demo.Wiki0Todo0ClientSecret, url.Values{
		"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag},
	})
	tok, _ := at["access_token"].(string)
	if tok == "" {
		t.Fatalf("redeem at Todo0: %v", at)
	}
	if c := unverified(t, jag); c["sub"] != "00u_alice" {
		t.Errorf("ID-JAG sub = %v, want Acme's stable id 00u_alice", c["sub"])
	}
	claims := unverified(t, tok)
	if claims["client_id"] != demo.Wiki0Todo0ClientID || claims["scope"] != demo.ScopeRead {
		t.Errorf("Todo0 access token claims = %v", claims)
	}
	// One user at Todo0 whichever way the requesting app signed in: the
	// NameID Acme issues is the user's stable id, the ID token's sub, so
	// Todo0 resolves Wiki0's alice and Agent0's alice to the same account.
	if viaOIDC := agent0TodoSubject(t, sb, "alice"); claims["sub"] != viaOIDC {
		t.Errorf("Todo0 user via SAML %v, via OIDC %v; want one user", claims["sub"], viaOIDC)
	}

	t.Run("checklist 1.3: bob is not assigned to Todo0 -> access_denied", func(t *testing.T) {
		if got := exchange(t, assertionFor(t, "bob"), demo.Wiki0IdPClientID, demo.Wiki0IdPClientSecret); got["error"] != "access_denied" {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("IDJAG 4.3.3: Wiki0's assertion presented by Agent0 -> invalid_grant", func(t *testing.T) {
		if got := exchange(t, aliceAssertion, demo.Agent0IdPClientID, demo.Agent0IdPClientSecret); got["error"] != "invalid_grant" {
			t.Fatalf("got %v", got)
		}
	})
}

// agent0TodoSubject is Todo0's user id for user when Agent0 signs in with
// OIDC and goes through the exchange and redemption.
func agent0TodoSubject(t *testing.T, sb *sandbox.Sandbox, user string) any {
	t.Helper()
	redirect := sb.Agent0URL + "/callback"
	q, err := webclient.New().AuthorizationCode(ctx(t), authorizeURL(sb, nil), redirect, user, user+"-demo")
	if err != nil {
		t.Fatal(err)
	}
	toks := postForm(t, sb.IdPURL+"/oauth2/token", demo.Agent0IdPClientID, demo.Agent0IdPClientSecret, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {"verifier-verifier-verifier-verifier-verifier"}, // authorizeURL's challenge
	})
	idToken, _ := toks["id_token"].(string)
	x := postForm(t, sb.IdPURL+"/oauth2/token", demo.Agent0IdPClientID, demo.Agent0IdPClientSecret, url.Values{
		"grant_type": {oauth.GrantTypeTokenExchange}, "requested_token_type": {oauth.TokenTypeIDJAG},
		"audience": {sb.Todo0URL}, "resource": {sb.MCPURL + demo.MCPPath}, "scope": {demo.ScopeRead},
		"subject_token": {idToken}, "subject_token_type": {oauth.TokenTypeIDToken},
	})
	jag, _ := x["access_token"].(string)
	at := postForm(t, sb.Todo0URL+"/oauth2/token", demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret, url.Values{
		"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag},
	})
	tok, _ := at["access_token"].(string)
	if tok == "" {
		t.Fatalf("Agent0 path: %v / %v / %v", toks["error"], x["error"], at)
	}
	return unverified(t, tok)["sub"]
}

// authnRequest is Wiki0's AuthnRequest for the HTTP-Redirect binding.
func authnRequest(t *testing.T) string {
	t.Helper()
	xml := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_wiki0req" Version="2.0" AssertionConsumerServiceURL="` +
		demo.Wiki0ACSURL + `"><saml:Issuer>` + demo.Wiki0EntityID + `</saml:Issuer></samlp:AuthnRequest>`
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write([]byte(xml))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func postForm(t *testing.T, u, id, secret string, f url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %d, not JSON: %v", u, resp.StatusCode, err)
	}
	return out
}

func unverified(t *testing.T, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
