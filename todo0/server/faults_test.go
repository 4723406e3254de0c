package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// setFaults switches faults through the admin API, as docs/todo0-faults.md shows.
func (e *env) setFaults(token string, names ...string) *http.Response {
	e.t.Helper()
	body := `{"active":[` + strings.Join(quote(names), ",") + `]}`
	req, _ := http.NewRequest(http.MethodPut, e.url+"/admin/api/faults", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func quote(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = `"` + s + `"`
	}
	return out
}

func (e *env) fault(names ...string) {
	e.t.Helper()
	if resp := e.setFaults(demo.Todo0AdminToken, names...); resp.StatusCode != http.StatusOK {
		e.t.Fatalf("set faults %v: %d %v", names, resp.StatusCode, decode(e.t, resp))
	}
}

func TestFaultAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// the switchboard needs the admin token
	if resp := e.setFaults("wrong", FaultSlow); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong admin token: %d", resp.StatusCode)
	}
	if resp := e.setFaults(demo.Todo0AdminToken, "token.no_such_fault"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown fault: %d", resp.StatusCode)
	}
	e.fault(FaultWrongTokenType)
	req, _ := http.NewRequest(http.MethodGet, e.url+"/admin/api/faults", nil)
	req.Header.Set("Authorization", "Bearer "+demo.Todo0AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, resp)
	if a := m["active"].([]any); len(a) != 1 || a[0] != FaultWrongTokenType || len(m["known"].([]any)) != 4 {
		t.Errorf("state %v", m)
	}
}

func TestFaultRefreshTokenAndWrongType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fault(FaultRefreshToken)
	m := decode(t, e.redeem(sign(t, jwtSpec{}, e.claims())))
	if rt, _ := m["refresh_token"].(string); rt == "" || m["token_type"] != "Bearer" {
		t.Errorf("token.refresh_token: %v", m)
	}
	e.fault(FaultWrongTokenType)
	m = decode(t, e.redeem(sign(t, jwtSpec{}, e.claims())))
	if _, ok := m["refresh_token"]; ok || m["token_type"] != "N_A" {
		t.Errorf("token.wrong_token_type: %v", m)
	}
	e.fault()
	m = decode(t, e.redeem(sign(t, jwtSpec{}, e.claims())))
	if _, ok := m["refresh_token"]; ok || m["token_type"] != "Bearer" {
		t.Errorf("faults off: %v", m)
	}
}

func TestFaultServerError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fault(FaultServerError)
	before := e.state()
	wantOAuthError(t, e.redeem(sign(t, jwtSpec{}, e.claims())), http.StatusInternalServerError, oauth.ErrServerError)
	if after := e.state(); after != before {
		t.Errorf("state changed %+v -> %+v", before, after)
	}
}

func TestFaultSlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fault(FaultSlow)
	// A patient client gets its token after the delay.
	type result struct {
		status int
		took   time.Duration
	}
	patient := make(chan result, 1)
	patientTok := sign(t, jwtSpec{}, e.claims())
	go func() {
		start := time.Now()
		resp := e.redeem(patientTok)
		resp.Body.Close()
		patient <- result{resp.StatusCode, time.Since(start)}
	}()
	// A client that gives up early gets its cancellation honoured: the
	// handler returns instead of sleeping on and redeeming anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	tok := sign(t, jwtSpec{}, e.claims())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/oauth2/token",
		strings.NewReader("grant_type="+oauth.GrantTypeJWTBearer+"&assertion="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret)
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the client's deadline to fire, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled request took %s", d)
	}
	r := <-patient
	if r.status != http.StatusOK || r.took < slowDelay {
		t.Errorf("status %d after %s, want 200 after at least %s", r.status, r.took, slowDelay)
	}
	time.Sleep(300 * time.Millisecond)
	if st := e.state(); st.grants != 1 {
		t.Errorf("grants %d, want only the patient client's", st.grants)
	}
}
