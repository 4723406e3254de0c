package server

import (
	"net/http/httptest"
	"testing"
)

// Behind a TLS-terminating proxy the request arrives as plain HTTP; cookies
// are still Secure because the public URL (the issuer) is https.
func TestCookiesSecureFromPublicScheme(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Issuer = "https://idp.example" })
	r := httptest.NewRequest("GET", "/admin", nil)
	r.Host = "idp.example"
	w := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(w, r)
	cookies := w.Result().Cookies()
	if len(cookies) == 0 {
		t.Fatalf("no cookie set: %d", w.Code)
	}
	for _, c := range cookies {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure though the issuer is https", c.Name)
		}
	}
}
