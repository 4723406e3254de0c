package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// FuzzParseTokenForm feeds random methods, content types and bodies to the
// token endpoints' form parser. Properties: no panic; every refusal is an
// *oauth.Error written as RFC 6749 JSON with no-store and a 4xx status;
// every accepted form has only non-empty values and repeats nothing but
// resource and audience (RFC 6749 3.2, RFC 8693 2.1).
func FuzzParseTokenForm(f *testing.F) {
	f.Add("POST", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=abc&code_verifier=xyz")
	f.Add("POST", "application/x-www-form-urlencoded; charset=UTF-8", "resource=a&resource=b&audience=x&scope=")
	f.Add("POST", "application/x-www-form-urlencoded", "grant_type=a&grant_type=b")
	f.Add("POST", "application/x-www-form-urlencoded", "a=%zz&b=1")
	f.Add("POST", "application/x-www-form-urlencoded", "a=1;b=2")
	f.Add("POST", "application/json", `{"grant_type":"x"}`)
	f.Add("GET", "application/x-www-form-urlencoded", "grant_type=x")
	f.Add("POST", "", "")
	f.Add("POST", "application/x-www-form-urlencoded", strings.Repeat("a", oauth.MaxFormBytes+1))
	f.Fuzz(func(t *testing.T, method, contentType, body string) {
		if !validMethod(method) {
			return // net/http refuses to build such a request; a server never sees one
		}
		r := httptest.NewRequest(http.MethodGet, "/oauth2/token", strings.NewReader(body))
		r.Method = method
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		form, err := oauth.ParseTokenForm(w, r)
		if err != nil {
			oe, ok := err.(*oauth.Error)
			if !ok {
				t.Fatalf("error %T %v is not an *oauth.Error", err, err)
			}
			if oe.Code != oauth.ErrInvalidRequest {
				t.Fatalf("code %q, want invalid_request", oe.Code)
			}
			checkErrorResponse(t, r, err)
			return
		}
		if method != http.MethodPost {
			t.Fatalf("accepted method %q", method)
		}
		for k, vs := range form {
			if len(vs) == 0 {
				t.Fatalf("parameter %q kept with no value", k)
			}
			for _, v := range vs {
				if v == "" {
					t.Fatalf("empty value kept for %q", k)
				}
			}
			if len(vs) > 1 && k != "resource" && k != "audience" {
				t.Fatalf("repeated parameter %q accepted", k)
			}
		}
		if len(body) > oauth.MaxFormBytes {
			t.Fatalf("accepted a body of %d bytes, limit %d", len(body), oauth.MaxFormBytes)
		}
	})
}

// checkErrorResponse writes err the one way errors are written and checks the wire form.
func checkErrorResponse(t *testing.T, r *http.Request, err error) {
	t.Helper()
	w := httptest.NewRecorder()
	oauth.WriteError(w, r, err)
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("status %d for %v, want 4xx", w.Code, err)
	}
	if w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("headers %v", w.Header())
	}
	var b struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Error == "" {
		t.Fatalf("body %q is not an OAuth error", w.Body)
	}
}

// validMethod is what net/http accepts as a method token (RFC 9110 5.6.2).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c > 0x7e || c <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return true
}
