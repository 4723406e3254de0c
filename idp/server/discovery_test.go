package server

import (
	"net/http"
	"testing"
)

// OIDC Discovery 1.0 section 3: request_uri_parameter_supported defaults to
// true when omitted; this IdP does not support request_uri, so it says false.
func TestDiscoveryRequestURIParameterNotSupported(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/.well-known/openid-configuration", nil)
	got := e.do(req)
	v, ok := got.JSON["request_uri_parameter_supported"]
	if got.Status != 200 || !ok || v != false {
		t.Fatalf("request_uri_parameter_supported = %v (present %v)", v, ok)
	}
}
