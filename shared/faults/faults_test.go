package faults_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
)

func TestHandler(t *testing.T) {
	set := faults.NewSet(faults.Fault{Name: "a.b", Description: "x"}, faults.Fault{Name: "c.d"})
	h := faults.Handler(set, "tok")
	do := func(method, auth, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/admin/api/faults", strings.NewReader(body))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// Admin endpoint: no token, wrong token, wrong scheme are refused.
	for _, auth := range []string{"", "Bearer nope", "Basic dG9rOg==", "Bearer tok2"} {
		if w := do("PUT", auth, `{"active":["a.b"]}`); w.Code != http.StatusUnauthorized {
			t.Fatalf("auth %q: %d", auth, w.Code)
		}
	}
	if set.On("a.b") {
		t.Fatal("an unauthenticated request switched a fault on")
	}
	if w := do("PUT", "Bearer tok", `{"active":["a.b"]}`); w.Code != 200 || !set.On("a.b") || set.On("c.d") {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	// Unknown names and bad JSON change nothing.
	for _, body := range []string{`{"active":["nope"]}`, `{"active":`, `{"other":1}`} {
		if w := do("PUT", "Bearer tok", body); w.Code != http.StatusBadRequest || !set.On("a.b") {
			t.Fatalf("PUT %s: %d, a.b on=%v", body, w.Code, set.On("a.b"))
		}
	}
	w := do("GET", "Bearer tok", "")
	var st struct {
		Active []string
		Known  []faults.Fault
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || len(st.Active) != 1 || len(st.Known) != 2 {
		t.Fatalf("GET: %s %v", w.Body, err)
	}
	if w := do("PUT", "Bearer tok", `{"active":[]}`); w.Code != 200 || set.On("a.b") {
		t.Fatal("empty list must switch everything off")
	}
	var nilSet *faults.Set
	if nilSet.On("a.b") {
		t.Fatal("a nil set has no faults")
	}
}
