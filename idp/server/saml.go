package server

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// SAML 2.0 at the IdP: Web SSO for service providers (an SP-initiated
// AuthnRequest over the HTTP-Redirect binding, answered with a signed
// assertion over the HTTP-POST binding), and the same assertions accepted as
// subject tokens at the token exchange (ID-JAG draft 4.3, subject_token_type
// urn:ietf:params:oauth:token-type:saml2, base64url per RFC 8693 3).
//
// XML signatures are made and checked by github.com/russellhaering/goxmldsig
// (on github.com/beevik/etree); nothing here canonicalises or verifies XML
// itself. Everything about the assertion is read from the element the
// library returns as signed, never from the document as received, which is
// what defeats signature wrapping.

const (
	samlAssertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"
	samlProtocolNS  = "urn:oasis:names:tc:SAML:2.0:protocol"
	samlMetadataNS  = "urn:oasis:names:tc:SAML:2.0:metadata"
	samlBearer      = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	samlPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	samlSuccess     = "urn:oasis:names:tc:SAML:2.0:status:Success"
	samlPassword    = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	samlRedirect    = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

	// samlAssertionTTL bounds an assertion's Conditions and bearer
	// confirmation: the SP consumes it at once, the exchange soon after.
	samlAssertionTTL = 5 * time.Minute
	// samlMaxToken bounds what an unauthenticated-looking subject token can
	// make the parser hold (an assertion is a few kilobytes).
	samlMaxToken = 64 << 10
)

// serviceProvider is a client that signs in with SAML.
type serviceProvider struct {
	ClientID, EntityID, ACSURL string
}

func (s *Server) spBy(ctx context.Context, col, v string) (*serviceProvider, error) {
	var sp serviceProvider
	err := s.db.QueryRowContext(ctx, `SELECT client_id, entity_id, acs_url FROM saml_service_providers WHERE `+col+` = ?`, v).
		Scan(&sp.ClientID, &sp.EntityID, &sp.ACSURL)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return &sp, err
}

// seedWiki0 adds the SAML requesting app of the demo world: client wiki0,
// its SAML registration and a managed connection wiki0 -> Todo0 (read only).
func seedWiki0(ctx context.Context, tx *sql.Tx, mcpResource string) error {
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO clients(id, app_id, name, secret_hash, auth_methods, grant_types, redirect_uris, jwks_uri) VALUES (?,?,?,?,?,?,'[]','')`,
			[]any{demo.Wiki0IdPClientID, demo.AppWiki0, "Wiki0", clientauth.HashSecret(demo.Wiki0IdPClientSecret),
				mustJSON([]string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost}), mustJSON([]string{oauth.GrantTypeTokenExchange})}},
		{`INSERT INTO saml_service_providers(client_id, entity_id, acs_url) VALUES (?,?,?)`,
			[]any{demo.Wiki0IdPClientID, demo.Wiki0EntityID, demo.Wiki0ACSURL}},
		{`INSERT INTO managed_connections(id, client_id, resource_app_id, resources, scopes, resource_client_id, include_email, enabled) VALUES (?,?,?,?,?,?,0,1)`,
			[]any{"mc_wiki0_todo0", demo.Wiki0IdPClientID, demo.AppTodo0, mustJSON([]string{mcpResource}), mustJSON([]string{demo.ScopeRead}), demo.Wiki0Todo0ClientID}},
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// ---- the signing key ----

// samlKey is the IdP's XML-DSig key. ID tokens may be signed with ES256,
// which SAML deployments rarely accept, so SAML has its own persisted RSA
// key and a self-signed certificate that the metadata publishes.
type samlKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func openSAMLKey(ctx context.Context, db *sql.DB, issuer string, now time.Time) (*samlKey, error) {
	var keyDER, certDER []byte
	err := db.QueryRowContext(ctx, `SELECT key_der, cert_der FROM saml_signing_key WHERE id = 1`).Scan(&keyDER, &certDER)
	if errors.Is(err, sql.ErrNoRows) {
		key, gerr := rsa.GenerateKey(rand.Reader, 2048)
		if gerr != nil {
			return nil, gerr
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{
			SerialNumber: serial, Subject: pkix.Name{CommonName: issuer + " SAML signing"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key); err != nil {
			return nil, err
		}
		if keyDER, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			return nil, err
		}
		if _, err = db.ExecContext(ctx, `INSERT INTO saml_signing_key(id, key_der, cert_der, created_at) VALUES (1, ?, ?, ?)`, keyDER, certDER, now.Unix()); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("saml signing key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("saml signing key is not RSA")
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("saml signing certificate: %w", err)
	}
	return &samlKey{key: rk, cert: cert}, nil
}

// ---- metadata ----

// samlMetadata serves the IdP's SAML metadata: entity id (the issuer), the
// signing certificate and the SSO endpoint.
func (s *Server) samlMetadata(w http.ResponseWriter, r *http.Request) {
	doc := etree.NewDocument()
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", samlMetadataNS)
	ed.CreateAttr("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#")
	ed.CreateAttr("entityID", s.cfg.Issuer)
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("WantAuthnRequestsSigned", "false")
	idp.CreateAttr("protocolSupportEnumeration", samlProtocolNS)
	kd := idp.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(s.samlKey.cert.Raw))
	idp.CreateElement("md:NameIDFormat").SetText(samlPersistent)
	sso := idp.CreateElement("md:SingleSignOnService")
	sso.CreateAttr("Binding", samlRedirect)
	sso.CreateAttr("Location", s.cfg.Issuer+"/saml/sso")
	doc.Indent(2)
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = doc.WriteTo(w)
}

// ---- Web SSO ----

// authnRequest is what the IdP takes from a SAML AuthnRequest.
type authnRequest struct {
	ID, Issuer, ACSURL string
}

// parseAuthnRequest decodes an HTTP-Redirect binding SAMLRequest (SAML
// bindings 3.4.4.1: DEFLATE, then base64).
func parseAuthnRequest(v string) (*authnRequest, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, errors.New("SAMLRequest is not base64")
	}
	xmlBytes, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), samlMaxToken+1))
	if err != nil || len(xmlBytes) > samlMaxToken {
		return nil, errors.New("SAMLRequest is not a DEFLATE-compressed request of reasonable size")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xmlBytes); err != nil {
		return nil, errors.New("SAMLRequest is not XML")
	}
	root := doc.Root()
	if hasDoctype(doc) || root == nil || root.Tag != "AuthnRequest" || root.NamespaceURI() != samlProtocolNS {
		return nil, errors.New("SAMLRequest is not a SAML 2.0 AuthnRequest")
	}
	a := &authnRequest{ID: root.SelectAttrValue("ID", ""), ACSURL: root.SelectAttrValue("AssertionConsumerServiceURL", "")}
	if iss := child(root, samlAssertionNS, "Issuer"); iss != nil {
		a.Issuer = strings.TrimSpace(iss.Text())
	}
	if a.ID == "" || a.Issuer == "" {
		return nil, errors.New("the AuthnRequest lacks an ID or an Issuer")
	}
	return a, nil
}

// samlCSRFCookie guards the SAML sign-in form (double submit, like /login;
// the form is login.html posting to /saml/sso).
const samlCSRFCookie = "acme_idp_saml_csrf"

// samlRequest reads and checks an AuthnRequest: a registered SP, and its
// registered ACS URL if the request names one. It writes the error page
// and returns nils when the request is refused.
func (s *Server) samlRequest(w http.ResponseWriter, r *http.Request, raw string) (*authnRequest, *serviceProvider, *client) {
	ctx := r.Context()
	a, err := parseAuthnRequest(raw)
	if err != nil {
		s.renderError(w, oauth.InvalidRequest("%v", err))
		return nil, nil, nil
	}
	sp, err := s.spBy(ctx, "entity_id", a.Issuer)
	if errors.Is(err, errNotFound) {
		s.renderError(w, oauth.InvalidRequest("%q is not a SAML service provider registered at Acme", a.Issuer))
		return nil, nil, nil
	}
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return nil, nil, nil
	}
	if a.ACSURL != "" && a.ACSURL != sp.ACSURL {
		s.renderError(w, oauth.InvalidRequest("AssertionConsumerServiceURL is not the one registered for %s", sp.EntityID))
		return nil, nil, nil
	}
	c, err := s.client(ctx, sp.ClientID)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return nil, nil, nil
	}
	return a, sp, c
}

// samlSSO answers an SP-initiated AuthnRequest: with a live Acme session at
// once, otherwise after the user signs in on Acme's SAML sign-in form.
func (s *Server) samlSSO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, sp, c := s.samlRequest(w, r, q.Get("SAMLRequest"))
	if a == nil {
		return
	}
	sess, u, err := s.currentSession(r)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	if sess == nil {
		s.samlLoginForm(w, r, c, q.Get("SAMLRequest"), q.Get("RelayState"), "", http.StatusOK)
		return
	}
	s.samlAnswer(w, r, a, sp, c, sess, u, q.Get("RelayState"))
}

func (s *Server) samlLoginForm(w http.ResponseWriter, r *http.Request, c *client, samlRequest, relayState, msg string, status int) {
	token := ""
	if ck, err := r.Cookie(samlCSRFCookie); err == nil && len(ck.Value) >= 32 {
		token = ck.Value
	} else {
		token = randomToken()
		http.SetCookie(w, &http.Cookie{Name: samlCSRFCookie, Value: token, Path: "/saml/sso", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: httpx.SecureCookie(s.cfg.Issuer, r)})
	}
	hidden := map[string]string{"SAMLRequest": samlRequest}
	if relayState != "" {
		hidden["RelayState"] = relayState
	}
	s.render(w, status, "login.html", map[string]any{
		"Client": c.Name, "Action": "/saml/sso", "Hidden": hidden, "CSRF": token, "Error": msg,
		"Username": r.PostFormValue("username"), "DemoUsers": demo.Users,
	})
}

// samlLogin is the SAML sign-in form's POST: the same password check and
// session as /login, then the assertion.
func (s *Server) samlLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, oauth.InvalidRequest("malformed form"))
		return
	}
	f := r.PostForm
	a, sp, c := s.samlRequest(w, r, f.Get("SAMLRequest"))
	if a == nil {
		return
	}
	again := func(msg string, status int) {
		s.samlLoginForm(w, r, c, f.Get("SAMLRequest"), f.Get("RelayState"), msg, status)
	}
	ck, err := r.Cookie(samlCSRFCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(f.Get("csrf"))) != 1 {
		again("Your sign-in form expired. Please try again.", http.StatusForbidden)
		return
	}
	u, err := s.userBy(r.Context(), "username", strings.TrimSpace(f.Get("username")))
	if err != nil && !errors.Is(err, errNotFound) {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	stored := dummyHash // same work whether or not the user exists
	if u != nil {
		stored = u.PasswordHash
	}
	if ok := checkPassword(stored, f.Get("password")); u == nil || !ok {
		s.audit(r.Context(), auditRecord{Event: "sign_in", Outcome: "failed", ClientID: c.ID, Reason: "wrong username or password"})
		again("Wrong username or password.", http.StatusUnauthorized)
		return
	}
	if !u.Active {
		s.audit(r.Context(), auditRecord{Event: "sign_in", Outcome: "failed", ClientID: c.ID, UserID: u.ID, Reason: "user deactivated"})
		again("This account has been deactivated by your administrator.", http.StatusForbidden)
		return
	}
	sess, err := s.createSession(w, r, u)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	s.audit(r.Context(), auditRecord{Event: "sign_in", Outcome: "ok", ClientID: c.ID, UserID: u.ID, Detail: map[string]any{"sid": sess.SID}})
	s.samlAnswer(w, r, a, sp, c, sess, u, f.Get("RelayState"))
}

// samlAnswer issues the assertion for a signed-in user: a Response in a form
// the browser posts to the SP's registered ACS URL (never one taken from
// the request that differs from it).
func (s *Server) samlAnswer(w http.ResponseWriter, r *http.Request, a *authnRequest, sp *serviceProvider, c *client, sess *session, u *user, relayState string) {
	ctx := r.Context()
	if !u.Active {
		s.renderError(w, oauth.AccessDenied("user %s is deactivated", u.Username))
		return
	}
	if ok, err := s.assigned(ctx, u.ID, c.AppID); err != nil || !ok {
		s.audit(ctx, auditRecord{Event: "saml_sso", Outcome: "denied", ClientID: c.ID, UserID: u.ID, Error: oauth.ErrAccessDenied, Reason: "user not assigned to the app"})
		s.renderError(w, oauth.AccessDenied("%s is not assigned to %s; ask your administrator", u.Username, c.Name))
		return
	}
	resp, err := s.samlResponse(sp, u.ID, sess, a.ID)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	s.audit(ctx, auditRecord{Event: "saml_sso", Outcome: "ok", ClientID: c.ID, UserID: u.ID, Detail: map[string]any{"sid": sess.SID}})
	// No script (the pages' CSP allows none): the user presses Continue.
	s.render(w, http.StatusOK, "saml_post.html", map[string]any{
		"Name": c.Name, "ACS": sp.ACSURL, "RelayState": relayState,
		"Response": base64.StdEncoding.EncodeToString(resp),
	})
}

// samlResponse is a samlp:Response carrying one signed assertion.
func (s *Server) samlResponse(sp *serviceProvider, userID string, sess *session, inResponseTo string) ([]byte, error) {
	assertion, err := s.samlAssertion(sp, userID, sess, inResponseTo)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	doc := etree.NewDocument()
	resp := doc.CreateElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", samlProtocolNS)
	resp.CreateAttr("xmlns:saml", samlAssertionNS)
	resp.CreateAttr("ID", "_"+randomToken())
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", samlTime(now))
	resp.CreateAttr("Destination", sp.ACSURL)
	if inResponseTo != "" {
		resp.CreateAttr("InResponseTo", inResponseTo)
	}
	resp.CreateElement("saml:Issuer").SetText(s.cfg.Issuer)
	resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", samlSuccess)
	resp.AddChild(assertion)
	return doc.WriteToBytes()
}

// samlAssertion builds and signs the assertion Acme issues to sp for a
// user: NameID = the user's stable id (the same value as an ID token's sub,
// so a resource app sees one user whichever way the client signed in),
// Audience = the SP's entity id, a bearer confirmation for its ACS URL, and
// SessionIndex = the Acme session, so revoking the session ends the
// assertion's use at the token exchange.
func (s *Server) samlAssertion(sp *serviceProvider, userID string, sess *session, inResponseTo string) (*etree.Element, error) {
	now := s.now().UTC()
	until := samlTime(now.Add(samlAssertionTTL))
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", samlAssertionNS)
	a.CreateAttr("ID", "_"+randomToken())
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", samlTime(now))
	a.CreateElement("saml:Issuer").SetText(s.cfg.Issuer)
	subj := a.CreateElement("saml:Subject")
	nameID := subj.CreateElement("saml:NameID")
	nameID.CreateAttr("Format", samlPersistent)
	nameID.CreateAttr("NameQualifier", s.cfg.Issuer)
	nameID.CreateAttr("SPNameQualifier", sp.EntityID)
	nameID.SetText(userID)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", samlBearer)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	scd.CreateAttr("NotOnOrAfter", until)
	scd.CreateAttr("Recipient", sp.ACSURL)
	if inResponseTo != "" {
		scd.CreateAttr("InResponseTo", inResponseTo)
	}
	cond := a.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", samlTime(now))
	cond.CreateAttr("NotOnOrAfter", until)
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(sp.EntityID)
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", samlTime(sess.AuthTime.UTC()))
	as.CreateAttr("SessionIndex", sess.SID)
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(samlPassword)
	return s.samlSign(a)
}

// samlSign signs el (RSA-SHA256, exclusive C14N) and puts the Signature
// right after the Issuer, where the SAML schema wants it; the enveloped
// transform makes its position irrelevant to the digest.
func (s *Server) samlSign(el *etree.Element) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(s.samlKey.key, [][]byte{s.samlKey.cert.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		return nil, err
	}
	signed := el.Copy()
	signed.InsertChildAt(1, sig)
	return signed, nil
}

func samlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// ---- the assertion as a subject token ----

// samlSubject validates a SAML 2.0 assertion as a subject token (ID-JAG
// draft 4.3.3, RFC 7522 3 for the assertion rules): base64url-encoded, an
// Assertion signed by this IdP's SAML key, Issuer = this IdP, every
// AudienceRestriction naming the authenticated client's SAML entity id,
// within its Conditions window and with a live bearer confirmation
// addressed to the client's ACS URL, and an Acme session not revoked.
func (s *Server) samlSubject(ctx context.Context, c *client, raw string) (*subject, error) {
	bad := func(rule, format string, args ...any) error {
		return oauth.InvalidGrant("subject_token is not a valid SAML 2.0 assertion from this IdP for client %q: %s", c.ID, fmt.Sprintf(format, args...)).WithRule(rule)
	}
	if len(raw) > samlMaxToken {
		return nil, bad("RFC 8693 3 saml2 encoding", "it is larger than %d bytes", samlMaxToken)
	}
	xmlBytes, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
	if err != nil {
		return nil, bad("RFC 8693 3 saml2 encoding", "it is not base64url-encoded (RFC 8693 3)")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xmlBytes); err != nil || doc.Root() == nil {
		return nil, bad("RFC 8693 3 saml2 encoding", "it is not XML")
	}
	if hasDoctype(doc) {
		return nil, bad("RFC 7522 3 assertion", "a DOCTYPE is not allowed")
	}
	if r := doc.Root(); r.Tag != "Assertion" || r.NamespaceURI() != samlAssertionNS {
		return nil, bad("RFC 7522 3 assertion", "the root element is not a saml:Assertion")
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{s.samlKey.cert}})
	// From here on only the element the library verified is read: a second,
	// unsigned assertion smuggled next to or inside the signed one is never
	// looked at (XML signature wrapping).
	a, err := vc.Validate(doc.Root())
	if err != nil {
		return nil, bad("RFC 7522 3.9 assertion signature", "the signature does not verify with the IdP's SAML certificate (%v)", err)
	}
	if a.SelectAttrValue("Version", "") != "2.0" {
		return nil, bad("RFC 7522 3 assertion", "Version is not 2.0")
	}
	if iss := child(a, samlAssertionNS, "Issuer"); iss == nil || strings.TrimSpace(iss.Text()) != s.cfg.Issuer {
		return nil, bad("RFC 7522 3.1 Issuer", "the Issuer is not %s", s.cfg.Issuer)
	}
	sp, err := s.spBy(ctx, "client_id", c.ID)
	if errors.Is(err, errNotFound) {
		return nil, bad("IDJAG 4.3.3 SAML Audience = client", "client %q is not a SAML service provider at Acme", c.ID)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	now, skew := s.now(), s.cfg.ClockSkew
	cond := child(a, samlAssertionNS, "Conditions")
	if cond == nil {
		return nil, bad("RFC 7522 3.5 Conditions", "it has no Conditions")
	}
	restrictions := children(cond, samlAssertionNS, "AudienceRestriction")
	if len(restrictions) == 0 {
		return nil, bad("IDJAG 4.3.3 SAML Audience = client", "it has no AudienceRestriction")
	}
	for _, ar := range restrictions {
		ok := false
		for _, aud := range children(ar, samlAssertionNS, "Audience") {
			ok = ok || strings.TrimSpace(aud.Text()) == sp.EntityID
		}
		if !ok { // SAML core 2.5.1.4: every restriction must be met
			return nil, bad("IDJAG 4.3.3 SAML Audience = client", "its Audience is not %s, the SAML entity of the authenticated client", sp.EntityID)
		}
	}
	if nb, ok, err := samlTimeAttr(cond, "NotBefore"); err != nil || (ok && now.Add(skew).Before(nb)) {
		return nil, bad("RFC 7522 3.5 NotBefore", "it is not valid yet (NotBefore)")
	}
	exp, ok, err := samlTimeAttr(cond, "NotOnOrAfter")
	if err != nil || !ok {
		return nil, bad("RFC 7522 3.5 NotOnOrAfter", "Conditions lack NotOnOrAfter")
	}
	if !now.Add(-skew).Before(exp) {
		return nil, bad("RFC 7522 3.5 NotOnOrAfter", "it has expired (NotOnOrAfter)")
	}
	subj := child(a, samlAssertionNS, "Subject")
	var nameID *etree.Element
	if subj != nil {
		nameID = child(subj, samlAssertionNS, "NameID")
	}
	if nameID == nil || strings.TrimSpace(nameID.Text()) == "" {
		return nil, bad("RFC 7522 3.3 Subject", "it has no Subject NameID")
	}
	if f := nameID.SelectAttrValue("Format", samlPersistent); f != samlPersistent {
		return nil, bad("RFC 7522 3.3 Subject", "NameID Format %q is not persistent, so it does not name a stable user", f)
	}
	if err := bearerConfirmed(subj, sp.ACSURL, now, skew); err != nil {
		return nil, bad("RFC 7522 3.4 bearer SubjectConfirmation", "%v", err)
	}
	sub := &subject{UserID: strings.TrimSpace(nameID.Text())}
	if st := child(a, samlAssertionNS, "AuthnStatement"); st != nil {
		sub.SID = st.SelectAttrValue("SessionIndex", "")
		if at, ok, err := samlTimeAttr(st, "AuthnInstant"); err == nil && ok {
			sub.AuthTime = at.Unix()
		}
	}
	if sub.SID != "" {
		var revoked bool
		err := s.db.QueryRowContext(ctx, `SELECT revoked_at IS NOT NULL FROM sessions WHERE sid = ?`, sub.SID).Scan(&revoked)
		if err != nil || revoked {
			return nil, oauth.InvalidGrant("the Acme session this assertion belongs to was revoked").WithRule("checklist 6 revoked IdP session")
		}
	}
	return sub, nil
}

// bearerConfirmed checks for a bearer SubjectConfirmation whose data is
// unexpired and addressed to acs (RFC 7522 3.4; SAML profiles 4.1.4.2).
func bearerConfirmed(subj *etree.Element, acs string, now time.Time, skew time.Duration) error {
	for _, sc := range children(subj, samlAssertionNS, "SubjectConfirmation") {
		if sc.SelectAttrValue("Method", "") != samlBearer {
			continue
		}
		d := child(sc, samlAssertionNS, "SubjectConfirmationData")
		if d == nil {
			continue
		}
		exp, ok, err := samlTimeAttr(d, "NotOnOrAfter")
		if err != nil || !ok || !now.Add(-skew).Before(exp) {
			continue
		}
		if d.SelectAttrValue("Recipient", "") != acs {
			continue
		}
		return nil
	}
	return fmt.Errorf("no live bearer SubjectConfirmation for %s", acs)
}

func samlTimeAttr(el *etree.Element, name string) (time.Time, bool, error) {
	v := el.SelectAttrValue(name, "")
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, true, err
}

func child(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func hasDoctype(doc *etree.Document) bool {
	for _, t := range doc.Child {
		if d, ok := t.(*etree.Directive); ok && strings.HasPrefix(strings.TrimSpace(d.Data), "DOCTYPE") {
			return true
		}
	}
	return false
}
