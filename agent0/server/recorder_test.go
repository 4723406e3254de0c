package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

func signJWT(t *testing.T, typ string, claims map[string]any) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := sig.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recordedExchange runs one token request through a recordingTransport
// against a fake token endpoint and returns the recorder.
func recordedExchange(t *testing.T, form url.Values, basic bool, respond map[string]any) *Recorder {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, respond)
	}))
	t.Cleanup(srv.Close)
	rec := newRecorder(func(*url.URL) string { return LaneIdP }, "agent0-idp-secret")
	hc := &http.Client{Transport: &recordingTransport{rec: rec}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("agent0", "agent0-idp-secret")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The caller gets the body untouched.
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil || got["token_type"] != respond["token_type"] {
		t.Fatalf("the recorder changed the response: %s", body)
	}
	return rec
}

// The inspector masks tokens unless revealed and never shows client
// secrets, in the form, in Basic credentials, or anywhere else.
func TestRecorderMasksTokensAndNeverShowsSecrets(t *testing.T) {
	exp := time.Now().Add(5 * time.Minute).Unix()
	idToken := signJWT(t, "JWT", map[string]any{"iss": "idp", "sub": "00u_alice", "exp": exp})
	idjag := signJWT(t, "oauth-id-jag+jwt", map[string]any{"iss": "idp", "sub": "00u_alice", "aud": "todo0", "exp": exp, "scope": "todos.read"})
	form := url.Values{
		"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {idToken}, "subject_token_type": {oauth.TokenTypeIDToken},
		"requested_token_type": {oauth.TokenTypeIDJAG}, "client_id": {"agent0"}, "client_secret": {"agent0-idp-secret"},
	}
	for _, basic := range []bool{false, true} {
		rec := recordedExchange(t, form, basic, map[string]any{
			"access_token": idjag, "issued_token_type": oauth.TokenTypeIDJAG, "token_type": "N_A", "expires_in": 300,
		})
		steps := rec.Exchanges()
		if len(steps) != 1 {
			t.Fatalf("recorded %d steps, want 1", len(steps))
		}
		masked, revealed := steps[0].View(false), steps[0].View(true)
		all := func(v StepView) string { return v.URL + v.Request + v.Response }

		if got := all(masked); strings.Contains(got, idToken) || strings.Contains(got, idjag) {
			t.Errorf("basic=%v: masked view shows a token:\n%s", basic, got)
		}
		if !strings.Contains(all(masked), "masked") {
			t.Errorf("basic=%v: masked view does not say what it masked:\n%s", basic, all(masked))
		}
		if got := all(revealed); !strings.Contains(got, idToken) || !strings.Contains(got, idjag) {
			t.Errorf("basic=%v: revealed view hides the tokens:\n%s", basic, got)
		}
		for _, v := range []StepView{masked, revealed} {
			got := all(v)
			// Basic credentials are base64 of "agent0:agent0-idp-secret".
			if strings.Contains(got, "agent0-idp-secret") || strings.Contains(got, "YWdlbnQwOmFnZW50MC1pZHAtc2VjcmV0") {
				t.Errorf("basic=%v: a view shows the client secret:\n%s", basic, got)
			}
		}
		if masked.Title != "Token exchange (RFC 8693): ID token → ID-JAG" || masked.Lane != LaneIdP {
			t.Errorf("step is %q in lane %q", masked.Title, masked.Lane)
		}
		// Decoded JWTs: header and claims, signature elided; shown masked too.
		var labels []string
		for _, j := range masked.JWTs {
			labels = append(labels, j.Label)
			if j.Label == "ID-JAG" && (!strings.Contains(j.Header, "oauth-id-jag+jwt") || !strings.Contains(j.Claims, `"aud": "todo0"`)) {
				t.Errorf("ID-JAG decoded as %s %s", j.Header, j.Claims)
			}
		}
		if strings.Join(labels, ",") != "subject token,ID-JAG" {
			t.Errorf("decoded JWTs %v, want the subject token and the ID-JAG", labels)
		}
		// The panel learns the ID-JAG's expiry from its exp claim.
		if ts := rec.Tokens(); ts.IDJAGExp.Unix() != exp || ts.Exchanges != 1 {
			t.Errorf("token state %+v, want ID-JAG exp %d and 1 exchange", ts, exp)
		}
	}
}

// A second token exchange in the same session is the silent re-exchange,
// and a bearer token is masked in the Authorization header.
func TestRecorderMarksSilentReExchangeAndMasksBearer(t *testing.T) {
	idjag := signJWT(t, "oauth-id-jag+jwt", map[string]any{"exp": time.Now().Add(time.Minute).Unix()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") != "" {
			oauth.WriteJSON(w, http.StatusOK, map[string]any{"access_token": idjag, "issued_token_type": oauth.TokenTypeIDJAG, "token_type": "N_A"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	rec := newRecorder(nil)
	hc := &http.Client{Transport: &recordingTransport{rec: rec}}
	for range 2 {
		resp, err := hc.PostForm(srv.URL+"/token", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+idjag)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	steps := rec.Exchanges()
	if len(steps) != 3 || steps[0].Silent || !steps[1].Silent || !strings.HasPrefix(steps[1].Title, "Silent re-exchange") {
		t.Fatalf("steps: %v %v", steps[0].Title, steps[1].Title)
	}
	if v := steps[2].View(false); strings.Contains(v.Request, idjag) || !strings.Contains(v.Request, "Authorization: Bearer ‹access token") {
		t.Fatalf("bearer not masked:\n%s", v.Request)
	}
	// A DPoP-bound access token is masked as an access token too, and revealable.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
	req.Header.Set("Authorization", "DPoP "+idjag)
	if resp, err = hc.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	steps = rec.Exchanges()
	if v := steps[3].View(false); strings.Contains(v.Request, idjag) || !strings.Contains(v.Request, "Authorization: DPoP ‹access token") {
		t.Fatalf("DPoP token not masked as an access token:\n%s", v.Request)
	}
	if v := steps[3].View(true); !strings.Contains(v.Request, idjag) {
		t.Fatalf("the learner cannot reveal their DPoP-bound token:\n%s", v.Request)
	}
}

// The recorder keeps at most maxExchanges steps per session.
func TestRecorderIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	rec := newRecorder(nil)
	hc := &http.Client{Transport: &recordingTransport{rec: rec}}
	for range maxExchanges + 5 {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	steps := rec.Exchanges()
	if len(steps) != maxExchanges || steps[0].Seq != 6 {
		t.Fatalf("kept %d steps from #%d, want %d from #6", len(steps), steps[0].Seq, maxExchanges)
	}
}

// The inspector page reads the record while responses complete: the record
// is only touched under its lock (go test -race, run by .ci/run, fails
// without that).
func TestRecorderConcurrentReadWhileResponsesComplete(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) }))
	defer srv.Close()
	rec := newRecorder(nil)
	hc := &http.Client{Transport: &recordingTransport{rec: rec}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			resp, err := hc.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	for {
		select {
		case <-done:
			if n := len(rec.Exchanges()); n != 50 {
				t.Fatalf("%d exchanges recorded, want 50", n)
			}
			return
		default:
			for _, e := range rec.Exchanges() {
				_ = len(e.respBody) + len(e.respHeader)
			}
		}
	}
}

// The panel counts refused attempts, and a Reconnect the user pressed is
// labelled as theirs, not as a silent re-exchange.
func TestRecorderCountsRefusalsAndLabelsReconnect(t *testing.T) {
	idjag := signJWT(t, "oauth-id-jag+jwt", map[string]any{"exp": time.Now().Add(time.Minute).Unix()})
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse {
			oauth.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "access_denied", "error_description": "user alice is deactivated"})
			return
		}
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"access_token": idjag, "issued_token_type": oauth.TokenTypeIDJAG, "token_type": "N_A"})
	}))
	defer srv.Close()
	rec := newRecorder(nil)
	hc := &http.Client{Transport: &recordingTransport{rec: rec}}
	exchange := func() {
		resp, err := hc.PostForm(srv.URL+"/token", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	exchange()
	rec.markReconnect()
	refuse = true
	exchange()
	exchange()
	steps := rec.Exchanges()
	if !strings.HasPrefix(steps[1].Title, "Reconnect (you pressed it)") || steps[1].Silent {
		t.Fatalf("the Reconnect exchange is labelled %q (silent %v)", steps[1].Title, steps[1].Silent)
	}
	if !strings.HasPrefix(steps[2].Title, "Silent re-exchange") {
		t.Fatalf("the exchange after it is labelled %q", steps[2].Title)
	}
	if tok := rec.Tokens(); tok.Exchanges != 1 || tok.Refused != 2 {
		t.Fatalf("granted %d, refused %d; want 1 and 2", tok.Exchanges, tok.Refused)
	}
}
