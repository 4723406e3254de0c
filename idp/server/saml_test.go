package server

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

var wiki0Basic = basic(demo.Wiki0IdPClientID, demo.Wiki0IdPClientSecret)

// samlSession starts an Acme session for username and returns its sid and
// cookie value.
func (e *env) samlSession(t *testing.T, username string) (sid, cookie string) {
	t.Helper()
	u, err := e.s.userBy(context.Background(), "username", username)
	if err != nil {
		t.Fatal(err)
	}
	sid, cookie = "sid_"+randomToken()[:22], randomToken()
	if _, err := e.s.db.Exec(`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?,?,?,?,?)`,
		sid, hashToken(cookie), u.ID, e.now().Unix(), e.now().Add(time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	return sid, cookie
}

// wiki0Assertion is the signed assertion Acme issues to Wiki0 for username.
func (e *env) wiki0Assertion(t *testing.T, username string) *etree.Element {
	t.Helper()
	ctx := context.Background()
	sp, err := e.s.spBy(ctx, "client_id", demo.Wiki0IdPClientID)
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := e.samlSession(t, username)
	u, _ := e.s.userBy(ctx, "username", username)
	a, err := e.s.samlAssertion(sp, u.ID, &session{SID: sid, UserID: u.ID, AuthTime: e.now()}, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// resign edits a signed assertion and signs it again with the IdP's own
// SAML key: a token the IdP really signed, but with one rule broken.
func (e *env) resign(t *testing.T, a *etree.Element, edit func(a *etree.Element)) *etree.Element {
	t.Helper()
	a = unsign(a)
	edit(a)
	signed, err := e.s.samlSign(a)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func unsign(a *etree.Element) *etree.Element {
	a = a.Copy()
	for _, c := range a.ChildElements() {
		if c.Tag == "Signature" {
			a.RemoveChild(c)
		}
	}
	return a
}

func find(a *etree.Element, path string) *etree.Element {
	el := a.FindElement(path)
	if el == nil {
		panic("no " + path)
	}
	return el
}

func xmlBytes(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samlToken(t testing.TB, el *etree.Element) string {
	return base64.RawURLEncoding.EncodeToString(xmlBytes(t, el))
}

func (e *env) samlForm(token string) url.Values {
	f := e.exchangeForm(token)
	f.Set("subject_token_type", oauth.TokenTypeSAML2)
	return f
}

// TestSAMLSubjectToken: a SAML 2.0 assertion Acme issued to Wiki0 is a
// subject token for Wiki0 (ID-JAG draft 4.3), and the ID-JAG names the same
// user as the ID-token path does.
func TestSAMLSubjectToken(t *testing.T) {
	e := newEnv(t)
	r := e.post("/oauth2/token", e.samlForm(samlToken(t, e.wiki0Assertion(t, "alice"))), wiki0Basic)
	if r.Status != 200 {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	_, claims := peek(t, r.str("access_token"))

	// checklist 1.7: the grant is audited as a SAML exchange.
	rec := e.lastAudit(t, "token_exchange")
	if rec.Outcome != "granted" || rec.ClientID != demo.Wiki0IdPClientID || rec.Detail["subject_token_type"] != oauth.TokenTypeSAML2 {
		t.Errorf("audit = %+v", rec)
	}
	// IDJAG 3: sub is the same stable user id the ID-token path puts there.
	viaOIDC := e.post("/oauth2/token", e.exchangeForm(e.signIn("alice", demo.Agent0IdPClientID, "openid").IDToken), agent0Basic)
	_, oidcClaims := peek(t, viaOIDC.str("access_token"))
	if claims["sub"] != "00u_alice" || claims["sub"] != oidcClaims["sub"] {
		t.Errorf("sub = %v, ID-token path sub = %v; want both 00u_alice", claims["sub"], oidcClaims["sub"])
	}
	// checklist 1.4/1.5: the wiki0 -> Todo0 connection maps the client and
	// narrows to read.
	if claims["client_id"] != demo.Wiki0Todo0ClientID || claims["scope"] != demo.ScopeRead || r.str("scope") != demo.ScopeRead {
		t.Errorf("client_id %v scope %v (response %q); want %s, %s", claims["client_id"], claims["scope"], r.str("scope"), demo.Wiki0Todo0ClientID, demo.ScopeRead)
	}
	if claims["auth_time"] == nil {
		t.Error("auth_time from the AuthnStatement is missing")
	}
	// RFC 8693 3 says base64url; a padded encoding is the same thing.
	padded := base64.URLEncoding.EncodeToString(xmlBytes(t, e.wiki0Assertion(t, "alice")))
	if r := e.post("/oauth2/token", e.samlForm(padded), wiki0Basic); r.Status != 200 {
		t.Errorf("padded base64url: %d %s", r.Status, r.Body)
	}
}

// TestSAMLSubjectTokenRules: each rule of a SAML subject token, one row
// each, with the checklist's error code and the audited rule.
func TestSAMLSubjectTokenRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	foreign := foreignSAMLSigner(t)
	type row struct {
		name  string
		token func(t *testing.T) string
		auth  func(*http.Request, url.Values)
		code  string
		rule  string
	}
	alice := func(t *testing.T) *etree.Element { return e.wiki0Assertion(t, "alice") }
	edited := func(edit func(a *etree.Element)) func(t *testing.T) string {
		return func(t *testing.T) string { return samlToken(t, e.resign(t, alice(t), edit)) }
	}
	rows := []row{
		{name: "RFC 7522 3.9: a tampered assertion (bad signature) -> invalid_grant", code: "invalid_grant", rule: "assertion signature", token: func(t *testing.T) string {
			a := alice(t)
			find(a, "Subject/NameID").SetText("00u_admin")
			return samlToken(t, a)
		}},
		{name: "RFC 7522 3.9: an unsigned assertion -> invalid_grant", code: "invalid_grant", rule: "assertion signature", token: func(t *testing.T) string {
			return samlToken(t, unsign(alice(t)))
		}},
		{name: "RFC 7522 3.9: signed by a key that is not the IdP's -> invalid_grant", code: "invalid_grant", rule: "assertion signature", token: func(t *testing.T) string {
			a, err := foreign.SignEnveloped(unsign(alice(t)))
			if err != nil {
				t.Fatal(err)
			}
			return samlToken(t, a)
		}},
		{name: "XML signature wrapping: the signed assertion hidden in an evil one's Advice -> invalid_grant", code: "invalid_grant", rule: "assertion signature", token: func(t *testing.T) string {
			signed := alice(t)
			evil := unsign(signed)
			evil.CreateAttr("ID", "_evil")
			find(evil, "Subject/NameID").SetText("00u_admin")
			evil.InsertChildAt(1, find(signed, "Signature").Copy())
			evil.CreateElement("saml:Advice").AddChild(signed)
			return samlToken(t, evil)
		}},
		{name: "XML signature wrapping: an evil Subject added before the signed one -> invalid_grant", code: "invalid_grant", rule: "assertion signature", token: func(t *testing.T) string {
			a := alice(t)
			evil := find(a, "Subject").Copy()
			find(evil, "NameID").SetText("00u_admin")
			a.InsertChildAt(2, evil)
			return samlToken(t, a)
		}},
		{name: "RFC 7522 3: a Response instead of an Assertion -> invalid_grant", code: "invalid_grant", rule: "RFC 7522 3 assertion", token: func(t *testing.T) string {
			resp := etree.NewElement("samlp:Response")
			resp.CreateAttr("xmlns:samlp", samlProtocolNS)
			resp.AddChild(alice(t))
			return samlToken(t, resp)
		}},
		{name: "RFC 7522 3: a DOCTYPE is refused -> invalid_grant", code: "invalid_grant", rule: "RFC 7522 3 assertion", token: func(t *testing.T) string {
			return base64.RawURLEncoding.EncodeToString(append([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>`), xmlBytes(t, alice(t))...))
		}},
		{name: "RFC 7522 3.1: wrong Issuer -> invalid_grant", code: "invalid_grant", rule: "3.1 Issuer", token: edited(func(a *etree.Element) { find(a, "Issuer").SetText("http://evil.example") })},
		{name: "IDJAG 4.3.3: SAML Audience is another SP -> invalid_grant", code: "invalid_grant", rule: "SAML Audience = client", token: edited(func(a *etree.Element) {
			find(a, "Conditions/AudienceRestriction/Audience").SetText("urn:acme:sp:other")
		})},
		{name: "IDJAG 4.3.3: a second AudienceRestriction without the client -> invalid_grant", code: "invalid_grant", rule: "SAML Audience = client", token: edited(func(a *etree.Element) {
			find(a, "Conditions").CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText("urn:acme:sp:other")
		})},
		{name: "IDJAG 4.3.3: no AudienceRestriction -> invalid_grant", code: "invalid_grant", rule: "SAML Audience = client", token: edited(func(a *etree.Element) {
			c := find(a, "Conditions")
			c.RemoveChild(find(c, "AudienceRestriction"))
		})},
		{name: "IDJAG 4.3.3: Wiki0's assertion presented by Agent0 -> invalid_grant", code: "invalid_grant", rule: "SAML Audience = client", auth: agent0Basic, token: func(t *testing.T) string { return samlToken(t, alice(t)) }},
		{name: "RFC 7522 3.5: expired (NotOnOrAfter) -> invalid_grant", code: "invalid_grant", rule: "NotOnOrAfter", token: func(t *testing.T) string {
			tok := samlToken(t, alice(t))
			e.advance(t, samlAssertionTTL+time.Minute)
			return tok
		}},
		{name: "RFC 7522 3.5: not yet valid (NotBefore) -> invalid_grant", code: "invalid_grant", rule: "NotBefore", token: func(t *testing.T) string {
			tok := samlToken(t, alice(t))
			e.advance(t, -2*time.Minute)
			return tok
		}},
		{name: "RFC 7522 3.4: no bearer SubjectConfirmation -> invalid_grant", code: "invalid_grant", rule: "bearer SubjectConfirmation", token: edited(func(a *etree.Element) {
			find(a, "Subject/SubjectConfirmation").CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")
		})},
		{name: "RFC 7522 3.4: bearer confirmation for another Recipient -> invalid_grant", code: "invalid_grant", rule: "bearer SubjectConfirmation", token: edited(func(a *etree.Element) {
			find(a, "Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("Recipient", "http://evil.example/acs")
		})},
		{name: "RFC 7522 3.4: bearer confirmation expired though Conditions are not -> invalid_grant", code: "invalid_grant", rule: "bearer SubjectConfirmation", token: edited(func(a *etree.Element) {
			find(a, "Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("NotOnOrAfter", samlTime(e.now().Add(-time.Minute)))
		})},
		{name: "RFC 7522 3.3: a transient NameID names no stable user -> invalid_grant", code: "invalid_grant", rule: "3.3 Subject", token: edited(func(a *etree.Element) {
			find(a, "Subject/NameID").CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient")
		})},
		{name: "checklist 6: the assertion's Acme session was revoked -> invalid_grant", code: "invalid_grant", rule: "revoked IdP session", token: func(t *testing.T) string {
			a := alice(t)
			if err := e.s.RevokeSession(ctx, "test", find(a, "AuthnStatement").SelectAttrValue("SessionIndex", "")); err != nil {
				t.Fatal(err)
			}
			return samlToken(t, a)
		}},
		{name: "RFC 8693 3: raw XML, not base64url -> invalid_grant", code: "invalid_grant", rule: "saml2 encoding", token: func(t *testing.T) string {
			return string(xmlBytes(t, alice(t)))
		}},
		{name: "RFC 8693 3: standard base64 alphabet, not base64url -> invalid_grant", code: "invalid_grant", rule: "saml2 encoding", token: func(t *testing.T) string {
			std := base64.StdEncoding.EncodeToString(xmlBytes(t, alice(t)))
			if !strings.ContainsAny(std, "+/") {
				t.Fatal("this encoding happens to be valid base64url too; the row checks nothing")
			}
			return std
		}},
		{name: "RFC 8693 3: an ID token sent as saml2 -> invalid_grant", code: "invalid_grant", rule: "saml2 encoding", token: func(t *testing.T) string {
			return e.signIn("alice", demo.Agent0IdPClientID, "openid").IDToken
		}},
		{name: "checklist 1.3: unknown user -> invalid_grant", code: "invalid_grant", rule: "user exists", token: edited(func(a *etree.Element) { find(a, "Subject/NameID").SetText("00u_nobody") })},
		{name: "checklist 1.3: user deactivated -> access_denied", code: "access_denied", rule: "user active", token: func(t *testing.T) string { return samlToken(t, e.wiki0Assertion(t, "carol")) }},
		{name: "checklist 1.3: user not assigned to the resource app -> access_denied", code: "access_denied", rule: "user assigned", token: func(t *testing.T) string { return samlToken(t, e.wiki0Assertion(t, "bob")) }},
		{name: "checklist 1.3: user unassigned from Wiki0, the requesting app -> access_denied", code: "access_denied", rule: "assigned to the requesting app", token: func(t *testing.T) string {
			tok := samlToken(t, alice(t))
			if _, err := e.s.SetAssignment(ctx, "test", demo.AppWiki0, AssignmentInput{UserID: "00u_alice"}, false); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = e.s.SetAssignment(ctx, "test", demo.AppWiki0, AssignmentInput{UserID: "00u_alice"}, true)
			})
			return tok
		}},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			if auth == nil {
				auth = wiki0Basic
			}
			mark := e.auditMark(t)
			r := e.post("/oauth2/token", e.samlForm(tc.token(t)), auth)
			if r.Status != 400 || r.str("error") != tc.code {
				t.Fatalf("got %d %s, want 400 %s", r.Status, r.Body, tc.code)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Error("error response without Cache-Control: no-store")
			}
			if rec := e.auditSince(t, "token_exchange", mark); !strings.Contains(rec.Rule, tc.rule) {
				t.Errorf("audited rule %q, want one containing %q (%s)", rec.Rule, tc.rule, rec.Reason)
			}
		})
	}
}

// foreignSAMLSigner signs with an RSA key and certificate Acme never issued.
func foreignSAMLSigner(t *testing.T) *dsig.SigningContext {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := dsig.NewSigningContext(k, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// authnRequestParam is an HTTP-Redirect binding SAMLRequest from issuer.
func authnRequestParam(t testing.TB, issuer, acs string) string {
	t.Helper()
	req := etree.NewElement("samlp:AuthnRequest")
	req.CreateAttr("xmlns:samlp", samlProtocolNS)
	req.CreateAttr("xmlns:saml", samlAssertionNS)
	req.CreateAttr("ID", "_req1")
	req.CreateAttr("Version", "2.0")
	if acs != "" {
		req.CreateAttr("AssertionConsumerServiceURL", acs)
	}
	req.CreateElement("saml:Issuer").SetText(issuer)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write(xmlBytes(t, req))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

var samlResponseField = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)

// TestSAMLWebSSO: an SP-initiated AuthnRequest from Wiki0, with an Acme
// session, is answered by an HTTP-POST form to Wiki0's registered ACS URL
// carrying a Response whose signed assertion the token exchange accepts.
func TestSAMLWebSSO(t *testing.T) {
	e := newEnv(t)
	_, cookie := e.samlSession(t, "alice")
	get := func(t *testing.T, q url.Values, withSession bool) response {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/saml/sso?"+q.Encode(), nil)
		if withSession {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		}
		return e.do(req)
	}
	r := get(t, url.Values{"SAMLRequest": {authnRequestParam(t, demo.Wiki0EntityID, demo.Wiki0ACSURL)}, "RelayState": {"page-7"}}, true)
	if r.Status != 200 || !strings.Contains(r.Body, `action="`+demo.Wiki0ACSURL+`"`) || !strings.Contains(r.Body, `value="page-7"`) {
		t.Fatalf("SSO: %d %s", r.Status, r.Body)
	}
	// The page carries a bearer assertion: never cached, never framed.
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("SSO page headers: %v", r.Header)
	}
	m := samlResponseField.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatal("no SAMLResponse in the form")
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	resp := doc.Root()
	if resp.Tag != "Response" || resp.SelectAttrValue("InResponseTo", "") != "_req1" || resp.SelectAttrValue("Destination", "") != demo.Wiki0ACSURL {
		t.Errorf("Response attributes: %v", resp.Attr)
	}
	a := resp.FindElement("Assertion")
	if a == nil || find(a, "Subject/SubjectConfirmation/SubjectConfirmationData").SelectAttrValue("InResponseTo", "") != "_req1" {
		t.Fatal("no assertion in response to _req1")
	}
	// The assertion is signed in place: lifted out of the Response as is,
	// it is a subject token.
	x := e.post("/oauth2/token", e.samlForm(samlToken(t, a)), wiki0Basic)
	if x.Status != 200 {
		t.Fatalf("exchange of the SSO assertion: %d %s", x.Status, x.Body)
	}

	refusals := []struct {
		name    string
		q       url.Values
		session bool
		status  int
		code    string
	}{
		{"SAML: unknown service provider", url.Values{"SAMLRequest": {authnRequestParam(t, "urn:acme:sp:nobody", "")}}, true, 400, "invalid_request"},
		{"SAML: ACS URL not the registered one", url.Values{"SAMLRequest": {authnRequestParam(t, demo.Wiki0EntityID, "http://evil.example/acs")}}, true, 400, "invalid_request"},
		{"SAML: SAMLRequest not DEFLATE+base64", url.Values{"SAMLRequest": {"not-a-request"}}, true, 400, "invalid_request"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, tc.q, tc.session)
			if r.Status != tc.status || !strings.Contains(r.Body, tc.code) || strings.Contains(r.Body, "SAMLResponse") {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
}

// TestSAMLSignIn: without an Acme session the AuthnRequest gets Acme's
// sign-in form (CSRF-protected like /login); a good password starts the
// session and answers with the assertion, a bad one or a deactivated user
// gets none.
func TestSAMLSignIn(t *testing.T) {
	e := newEnv(t)
	req := authnRequestParam(t, demo.Wiki0EntityID, "")
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	// form fetches the sign-in form in a fresh browser: its CSRF cookie and token.
	form := func(t *testing.T) (*http.Cookie, string) {
		r := e.do(mustGet(t, e.ts.URL+"/saml/sso?"+url.Values{"SAMLRequest": {req}}.Encode()))
		m := csrfRe.FindStringSubmatch(r.Body)
		if r.Status != 200 || m == nil || strings.Contains(r.Body, "SAMLResponse") {
			t.Fatalf("no sign-in form without a session: %d %s", r.Status, r.Body)
		}
		for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
			if ck.Name == samlCSRFCookie {
				return ck, m[1]
			}
		}
		t.Fatal("no CSRF cookie")
		return nil, ""
	}
	post := func(t *testing.T, ck *http.Cookie, f url.Values) response {
		f.Set("SAMLRequest", req)
		r, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/saml/sso", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if ck != nil {
			r.AddCookie(ck)
		}
		return e.do(r)
	}
	for _, tc := range []struct {
		name, user, password string
		noCookie             bool
		status               int
		want                 string
	}{
		{name: "a good password: the assertion", user: "alice", password: "alice-demo", status: 200, want: "SAMLResponse"},
		{name: "a wrong password: the form again", user: "alice", password: "nope", status: 401, want: "Wrong username or password"},
		{name: "an unknown user: the same answer", user: "nobody", password: "x", status: 401, want: "Wrong username or password"},
		{name: "a deactivated user", user: "carol", password: "carol-demo", status: 403, want: "deactivated"},
		{name: "no CSRF cookie (a cross-site post)", user: "alice", password: "alice-demo", noCookie: true, status: 403, want: "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck, token := form(t)
			if tc.noCookie {
				ck = nil
			}
			r := post(t, ck, url.Values{"username": {tc.user}, "password": {tc.password}, "csrf": {token}})
			if r.Status != tc.status || !strings.Contains(r.Body, tc.want) {
				t.Fatalf("got %d %s; want %d with %q", r.Status, r.Body, tc.status, tc.want)
			}
			if tc.status != 200 && strings.Contains(r.Body, "SAMLResponse") {
				t.Fatal("an assertion without a good sign-in")
			}
			if tc.status == 200 {
				var acme bool
				for _, c := range (&http.Response{Header: r.Header}).Cookies() {
					acme = acme || c.Name == sessionCookie
				}
				if !acme {
					t.Error("signing in for Wiki0 started no Acme session (no single sign-on for the next app)")
				}
			}
		})
	}
}

// TestSAMLMetadata: the metadata publishes the certificate that signs
// assertions, and the key survives a restart.
func TestSAMLMetadata(t *testing.T) {
	e := newEnv(t)
	r := e.do(mustGet(t, e.ts.URL+"/saml/metadata"))
	doc := etree.NewDocument()
	if err := doc.ReadFromString(r.Body); err != nil {
		t.Fatal(err)
	}
	if got := doc.Root().SelectAttrValue("entityID", ""); got != e.s.cfg.Issuer {
		t.Errorf("entityID %q, want the issuer %q", got, e.s.cfg.Issuer)
	}
	cert := doc.FindElement("//X509Certificate")
	if cert == nil || cert.Text() != base64.StdEncoding.EncodeToString(e.s.samlKey.cert.Raw) {
		t.Fatal("metadata does not publish the SAML signing certificate")
	}
	before := e.s.samlKey.cert.Raw
	e2 := e.restart(t)
	if !bytes.Equal(e2.s.samlKey.cert.Raw, before) {
		t.Error("the SAML signing key changed across a restart")
	}
}

func mustGet(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// FuzzSAMLInputs: whatever arrives as a SAMLRequest or as a saml2 subject
// token, the IdP answers with an error or a subject and never panics; a
// subject only ever comes from an assertion its own key signed.
func FuzzSAMLInputs(f *testing.F) {
	ctx := context.Background()
	s, err := New(ctx, Config{Issuer: "http://127.0.0.1:1", DataDir: f.TempDir(), Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	sp, err := s.spBy(ctx, "client_id", demo.Wiki0IdPClientID)
	if err != nil {
		f.Fatal(err)
	}
	c, err := s.client(ctx, demo.Wiki0IdPClientID)
	if err != nil {
		f.Fatal(err)
	}
	sess := &session{SID: "sid_fuzz", UserID: "00u_alice", AuthTime: time.Now()}
	if _, err := s.db.Exec(`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?,?,?,?,?)`,
		sess.SID, hashToken("fuzz"), sess.UserID, sess.AuthTime.Unix(), time.Now().Add(time.Hour).Unix()); err != nil {
		f.Fatal(err)
	}
	a, err := s.samlAssertion(sp, sess.UserID, sess, "")
	if err != nil {
		f.Fatal(err)
	}
	signed := xmlBytes(f, a)
	valid := base64.RawURLEncoding.EncodeToString(signed)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x"/>`)))
	f.Add(authnRequestParam(f, demo.Wiki0EntityID, demo.Wiki0ACSURL))
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = parseAuthnRequest(in)
		sub, err := s.samlSubject(ctx, c, in)
		if err != nil {
			return
		}
		// Only the signed bytes yield a subject (padding aside, the same token).
		if raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(in, "=")); !bytes.Equal(raw, signed) {
			t.Fatalf("accepted an assertion the IdP did not issue: subject %+v", sub)
		}
	})
}
