package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

// TestSharedSignalsTransmitter: with Shared Signals on, deactivating a user
// pushes a RISC account-disabled SET and revoking her sessions a CAEP
// session-revoked SET to the resource app, shaped as SSF 1.0 requires
// (checklist 9.2); with it off, nothing is pushed.
func TestSharedSignalsTransmitter(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()
	for _, on := range []bool{false, true} {
		got, bodies = nil, nil
		e := newEnv(t, func(c *Config) { c.Todo0URL, c.SharedSignals = rcv.URL, on })
		e.mustAdmin(http.MethodPost, "/users/00u_alice/deactivate", nil)
		e.mustAdmin(http.MethodDelete, "/users/00u_alice/sessions", nil)
		if !on {
			if len(got) != 0 {
				t.Fatalf("Shared Signals off, yet %d SETs were pushed", len(got))
			}
			continue
		}
		if len(got) != 2 {
			t.Fatalf("pushed %d SETs, want 2", len(got))
		}
		for i, want := range []string{EventAccountDisabled, EventSessionRevoked} {
			r := got[i]
			if r.URL.Path != "/ssf/events" || r.Header.Get("Content-Type") != "application/secevent+jwt" || r.Method != http.MethodPost {
				t.Fatalf("push %d: %s %s %s", i, r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			}
			hdr, claims, err := jwtverify.Peek(bodies[i])
			if err != nil {
				t.Fatal(err)
			}
			if hdr["typ"] != TypSET || hdr["kid"] == nil {
				t.Errorf("SET header %v: typ must be secevent+jwt (RFC 8417 2.3)", hdr)
			}
			if _, ok := claims["sub"]; ok {
				t.Error("SET carries sub (SSF 1.0 4.1.2)")
			}
			if _, ok := claims["exp"]; ok {
				t.Error("SET carries exp (SSF 1.0 4.1.7)")
			}
			sub, _ := claims["sub_id"].(map[string]any)
			events, _ := claims["events"].(map[string]any)
			if claims["iss"] != e.s.cfg.Issuer || claims["aud"] != rcv.URL || claims["jti"] == nil || claims["iat"] == nil || claims["txn"] == nil ||
				sub["format"] != "iss_sub" || sub["iss"] != e.s.cfg.Issuer || sub["sub"] != "00u_alice" || len(events) != 1 || events[want] == nil {
				t.Errorf("SET %d claims: %v", i, claims)
			}
			// It verifies with Acme's published key.
			key, err := e.s.keys.Key(t.Context(), hdr["kid"].(string))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.ParseSigned(bodies[i], jwtverify.DefaultAlgorithms)
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Claims(key.Key, &map[string]any{}); err != nil {
				t.Errorf("SET %d does not verify: %v", i, err)
			}
		}
		if rec := e.lastAudit(t, "shared_signal"); rec.Outcome != "ok" || rec.UserID != "00u_alice" {
			t.Errorf("audit of the push: %+v", rec)
		}
	}
}
