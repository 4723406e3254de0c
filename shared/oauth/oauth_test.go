package oauth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

func TestParseTokenForm(t *testing.T) {
	tests := []struct {
		name, method, ctype, body string
		wantStatus                int
		want                      map[string]string
	}{
		{name: "ok", method: "POST", ctype: "application/x-www-form-urlencoded", body: "grant_type=x&scope=a+b", want: map[string]string{"grant_type": "x", "scope": "a b"}},
		{name: "charset parameter", method: "POST", ctype: "application/x-www-form-urlencoded; charset=UTF-8", body: "a=1", want: map[string]string{"a": "1"}},
		// RFC 6749 3.1: parameters sent without a value are treated as omitted (the Go MCP SDK sends code=)
		{name: "empty code ignored", method: "POST", ctype: "application/x-www-form-urlencoded", body: "grant_type=x&code=", want: map[string]string{"grant_type": "x"}},
		{name: "resource may repeat (RFC 8707)", method: "POST", ctype: "application/x-www-form-urlencoded", body: "resource=a&resource=b", want: map[string]string{"resource": "a"}},
		// RFC 6749 3.2: request parameters MUST NOT be included more than once
		{name: "repeated parameter", method: "POST", ctype: "application/x-www-form-urlencoded", body: "grant_type=a&grant_type=b", wantStatus: 400},
		{name: "GET", method: "GET", ctype: "", body: "", wantStatus: 405},
		{name: "JSON body", method: "POST", ctype: "application/json", body: `{"grant_type":"x"}`, wantStatus: 400},
		{name: "no content type", method: "POST", ctype: "", body: "a=1", wantStatus: 400},
		{name: "malformed encoding", method: "POST", ctype: "application/x-www-form-urlencoded", body: "a=%zz", wantStatus: 400},
		{name: "oversized", method: "POST", ctype: "application/x-www-form-urlencoded", body: "a=" + strings.Repeat("x", oauth.MaxFormBytes), wantStatus: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/token", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			form, err := oauth.ParseTokenForm(w, r)
			if tc.wantStatus != 0 {
				oe := oauth.AsError(err)
				if err == nil || oe.Code != oauth.ErrInvalidRequest || oe.HTTPStatus() != tc.wantStatus {
					t.Fatalf("err = %v (status %d), want invalid_request %d", err, oe.HTTPStatus(), tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if form.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, form.Get(k), v)
				}
			}
			if len(form) != len(tc.want) {
				t.Errorf("form = %v, want keys %v", form, tc.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	r := httptest.NewRequest("POST", "/token", nil)
	for _, tc := range []struct {
		err        error
		status     int
		code, desc string
	}{
		{oauth.InvalidGrant("bad %s", "token"), 400, "invalid_grant", "bad token"},
		{oauth.InvalidClient(true, "nope"), 401, "invalid_client", "nope"},
		{errors.New("disk on fire: /secret/path"), 500, "server_error", "internal error; see the server log"},
	} {
		w := httptest.NewRecorder()
		oauth.WriteError(w, r, tc.err)
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.status || body["error"] != tc.code || body["error_description"] != tc.desc {
			t.Errorf("%v: got %d %v", tc.err, w.Code, body)
		}
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: headers %v", tc.err, w.Header())
		}
		if tc.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("invalid_client via Basic without WWW-Authenticate")
		}
	}
	if w := httptest.NewRecorder(); true {
		oauth.WriteError(w, r, oauth.InvalidGrant("x").WithRule("rule"))
		if strings.Contains(w.Body.String(), "rule") {
			t.Error("the rule name is for logs and audit, not the response")
		}
	}
	_ = http.StatusOK
}

func TestScopes(t *testing.T) {
	if got := oauth.SplitScope("  a b  a c "); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("SplitScope = %v", got)
	}
	if got := oauth.Intersect([]string{"c", "a", "x"}, []string{"a", "b", "c"}); strings.Join(got, ",") != "c,a" {
		t.Errorf("Intersect = %v", got)
	}
}
