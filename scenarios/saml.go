package scenarios

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/beevik/etree"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// errorPage reads the code and description of an Acme error page.
var errorPage = regexp.MustCompile(`<code>([a-z_]+)</code>\s*([^<]*)</p>`)

// signInAlert is the message of Acme's SAML sign-in form.
var signInAlert = regexp.MustCompile(`role="alert">([^<]*)</p>`)

// samlSignIn plays Wiki0, the SAML service provider: an SP-initiated
// AuthnRequest (HTTP-Redirect binding) in the user's browser; with no Acme
// session yet the runner fills in Acme's sign-in form, as sign_in does. The
// assertion in the SAMLResponse Acme posts to Wiki0's ACS is saved
// base64url-encoded (RFC 8693 3) as saml_assertion, ready to be an
// exchange's subject_token.
func (r *run) samlSignIn(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	xml := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_` +
		randomString() + `" Version="2.0" AssertionConsumerServiceURL="` + demo.Wiki0ACSURL + `"><saml:Issuer>` + demo.Wiki0EntityID + `</saml:Issuer></samlp:AuthnRequest>`
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write([]byte(xml))
	_ = w.Close()
	u := r.t.IdP + "/saml/sso?" + url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}}.Encode()
	call := &Call{Party: "idp", Method: http.MethodGet, URL: r.t.IdP + "/saml/sso?SAMLRequest=(an AuthnRequest from " + demo.Wiki0EntityID + ", DEFLATE + base64)"}
	sr.Calls = append(sr.Calls, call)
	start := time.Now()
	p, err := r.browser(st.SignIn.User).Get(ctx, u)
	call.Elapsed = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		call.Err = err.Error()
		return Outcome{}, err
	}
	call.Status = p.Status
	if _, _, lerr := p.Form("/saml/sso"); lerr == nil {
		// No Acme session yet: Acme's sign-in form, filled in as the user.
		call.Body = "(Acme's sign-in form for Wiki0)"
		login := &Call{Party: "idp", Method: http.MethodPost, URL: r.t.IdP + "/saml/sso"}
		sr.Calls = append(sr.Calls, login)
		start := time.Now()
		p, err = r.browser(st.SignIn.User).SubmitForm(ctx, p, "/saml/sso", url.Values{"username": {st.SignIn.User}, "password": {password(st.SignIn.User, st.SignIn.Password)}})
		login.Elapsed = time.Since(start).Round(time.Millisecond).String()
		if err != nil {
			login.Err = err.Error()
			return Outcome{}, err
		}
		login.Status = p.Status
		call = login
		if m := signInAlert.FindStringSubmatch(p.Body); m != nil && p.Status != http.StatusOK {
			call.Body = "(the sign-in form, filled in as " + st.SignIn.User + ") " + html.UnescapeString(m[1])
			return Outcome{RefusedBy: "idp", Status: p.Status, Error: "sign_in_failed", Description: html.UnescapeString(m[1])}, nil
		}
	}
	_, vals, ferr := p.Form(demo.Wiki0ACSURL)
	if ferr != nil {
		out := Outcome{RefusedBy: "idp", Status: p.Status, Error: "no_saml_response", Description: "no form posting to Wiki0's ACS"}
		if m := errorPage.FindStringSubmatch(p.Body); m != nil {
			out.Error, out.Description = m[1], html.UnescapeString(m[2])
		}
		call.Body = fmt.Sprintf("(an Acme error page) %s %s", out.Error, out.Description)
		return out, nil
	}
	raw, err := base64.StdEncoding.DecodeString(vals.Get("SAMLResponse"))
	doc := etree.NewDocument()
	if err != nil || doc.ReadFromBytes(raw) != nil || doc.FindElement("/Response/Assertion") == nil {
		return Outcome{RefusedBy: "client", Status: p.Status, Error: "bad_saml_response", Description: "the SAMLResponse holds no assertion"}, nil
	}
	a := doc.FindElement("/Response/Assertion")
	nameID, aud := "", ""
	if el := a.FindElement("Subject/NameID"); el != nil {
		nameID = el.Text()
	}
	if el := a.FindElement("Conditions/AudienceRestriction/Audience"); el != nil {
		aud = el.Text()
	}
	out := etree.NewDocument()
	out.SetRoot(a.Copy())
	x, err := out.WriteToBytes()
	if err != nil {
		return Outcome{}, err
	}
	name := "saml_assertion"
	if st.Save != "" {
		name = st.Save
	}
	r.vars[name] = base64.RawURLEncoding.EncodeToString(x)
	call.Body = fmt.Sprintf("(a form posting SAMLResponse to %s) a signed assertion: NameID %s, Audience %s; saved base64url as ${%s}", demo.Wiki0ACSURL, nameID, aud, name)
	return Outcome{Status: p.Status}, nil
}
