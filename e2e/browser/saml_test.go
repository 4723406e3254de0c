//go:build browser

package browser

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// TestSAMLWebSSOInChromium: Wiki0's SAML AuthnRequest in a real browser.
// Without an Acme session Acme shows its sign-in form (posting to
// /saml/sso); after the password the page carries the signed Response in a
// form to Wiki0's ACS URL, with no script (the CSP allows none). Then
// Agent0's sign-in reuses the Acme session the SAML sign-in started.
func TestSAMLWebSSOInChromium(t *testing.T) {
	t.Parallel()
	sb := StartSandbox(t, sandbox.Options{})
	alice := NewPerson(t, "alice")
	xml := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_b1" Version="2.0"><saml:Issuer>` +
		demo.Wiki0EntityID + `</saml:Issuer></samlp:AuthnRequest>`
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write([]byte(xml))
	_ = w.Close()
	start := sb.IdPURL + "/saml/sso?" + url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}, "RelayState": {"page-7"}}.Encode()

	if !alice.SignIn(start, "alice", "alice-demo") {
		t.Fatal("Acme did not ask a fresh browser for a password")
	}
	alice.MustContain("Acme signed you in", "Continue to Wiki0")
	html := alice.HTML()
	if !strings.Contains(html, `action="`+demo.Wiki0ACSURL+`"`) || !strings.Contains(html, `name="SAMLResponse"`) || !strings.Contains(html, `value="page-7"`) {
		t.Fatalf("no form posting the SAML Response to Wiki0's ACS:\n%s", html)
	}
	if *updateScreenshots {
		alice.Screenshot(filepath.Join("..", "..", "docs", "screenshots", "idp-saml-continue.png"))
	}

	if alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo") {
		t.Fatal("Agent0 sign-in asked for a password again; the SAML sign-in started an Acme session")
	}
	alice.MustContain("Alice Anderson")
}
