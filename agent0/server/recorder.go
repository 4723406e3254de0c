package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// The flow inspector. Every HTTP exchange Agent0 makes for a user (discovery,
// token exchange, jwt-bearer, MCP calls, ID token refresh) goes through a
// recordingTransport, which keeps a bounded copy per user session in memory.
// Tokens stay in memory only (Agent0 holds them anyway) and are masked when
// shown unless the learner asks to reveal them; client secrets are never
// shown. Nothing here is logged.

const (
	maxExchanges = 200      // per session; older steps are dropped
	maxBody      = 16 << 10 // bytes of each body kept for display
)

// Lanes of the sequence diagram, left to right.
const (
	LaneIdP    = "IdP"
	LaneAgent0 = "Agent0"
	LaneAS     = "Todo0 AS"
	LaneMCP    = "Todo0 MCP"
)

// secretKind says how a value is masked.
type secretKind int

const (
	revealable secretKind = iota // tokens, codes: masked unless the learner reveals them
	neverShown                   // client secrets, Basic credentials
)

type secret struct {
	value string
	kind  secretKind
	label string
}

// Exchange is one recorded HTTP request and its response.
type Exchange struct {
	Seq      int
	Start    time.Time
	Duration time.Duration
	Lane     string // the party Agent0 talked to
	Title    string // what the step is, in protocol words
	Method   string
	URL      string
	Status   int
	Err      string
	Silent   bool // a re-exchange the user did not ask for

	reqHeader, respHeader http.Header
	reqBody, respBody     []byte
	done                  bool
	secrets               []secret
}

// TokenState is what the connections panel shows, learned from the token
// responses that went through the recorder.
type TokenState struct {
	AccessExp, IDJAGExp time.Time
	Scopes              []string
	Exchanges           int // successful token exchanges (the first is the connection)
	Refused             int // token exchanges or redemptions the IdP or Todo0 refused
	Exchanging          int // token exchanges in flight
}

// Recorder is one session's bounded list of exchanges.
type Recorder struct {
	mu     sync.Mutex
	seq    int
	items  []*Exchange
	tokens TokenState
	never  []string // values never shown (client secrets)
	lanes  func(u *url.URL) string
	// reconnect: the user pressed Reconnect, so the next token exchange is
	// theirs, not a silent renewal.
	reconnect bool
}

// markReconnect labels the next token exchange as the user's Reconnect.
func (r *Recorder) markReconnect() {
	r.mu.Lock()
	r.reconnect = true
	r.mu.Unlock()
}

func newRecorder(lanes func(*url.URL) string, clientSecrets ...string) *Recorder {
	return &Recorder{lanes: lanes, never: clientSecrets}
}

// Exchanges returns a snapshot of the recorded steps, oldest first.
func (r *Recorder) Exchanges() []*Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Exchange, len(r.items))
	for i, e := range r.items {
		c := *e
		c.secrets = slices.Clone(e.secrets)
		// Requests made before discovery named the authorization server
		// could not be placed then; place them now.
		if c.Lane == LaneAgent0 && r.lanes != nil {
			if u, err := url.Parse(c.URL); err == nil {
				c.Lane = r.lanes(u)
			}
		}
		out[i] = &c
	}
	return out
}

// Tokens returns the current token state.
func (r *Recorder) Tokens() TokenState {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tokens
	t.Scopes = slices.Clone(t.Scopes)
	return t
}

type recorderKey struct{}

// withRecorder makes requests made with ctx through a recordingTransport go
// to rec (for clients shared by all sessions, like the OIDC relying party's).
func withRecorder(ctx context.Context, rec *Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, rec)
}

// recordingTransport records exchanges to rec, or to the recorder in the
// request's context when rec is nil.
type recordingTransport struct {
	base http.RoundTripper
	rec  *Recorder
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := t.rec
	if rec == nil {
		rec, _ = req.Context().Value(recorderKey{}).(*Recorder)
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if rec == nil {
		return base.RoundTrip(req)
	}
	e := &Exchange{Start: time.Now(), Method: req.Method, reqHeader: req.Header.Clone()}
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		e.reqBody = b
	}
	u := *req.URL
	e.URL = u.String()
	rec.begin(e, &u)
	resp, err := base.RoundTrip(req)
	if err != nil {
		rec.finish(e, nil, err)
		return nil, err
	}
	rec.mu.Lock()
	e.Status = resp.StatusCode
	rec.mu.Unlock()
	resp.Body = &capture{ReadCloser: resp.Body, rec: rec, e: e, header: resp.Header.Clone()}
	return resp, nil
}

// capture keeps the first maxBody bytes of a response body and completes
// the exchange at EOF or Close, so streamed responses pass through untouched.
type capture struct {
	io.ReadCloser
	rec    *Recorder
	e      *Exchange
	header http.Header
	buf    bytes.Buffer
	once   sync.Once
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if room := maxBody - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(n, room)])
	}
	if err == io.EOF {
		c.complete()
	}
	return n, err
}

func (c *capture) Close() error {
	err := c.ReadCloser.Close()
	c.complete()
	return err
}

func (c *capture) complete() {
	c.once.Do(func() {
		body := slices.Clone(c.buf.Bytes())
		// Under the lock: the inspector page copies exchanges concurrently.
		c.rec.mu.Lock()
		c.e.respHeader, c.e.respBody = c.header, body
		c.rec.mu.Unlock()
		c.rec.finish(c.e, c.header, nil)
	})
}

// begin classifies the request and appends it (in flight) to the list.
func (r *Recorder) begin(e *Exchange, u *url.URL) {
	form := requestForm(e)
	e.Lane = LaneAgent0
	if r.lanes != nil {
		e.Lane = r.lanes(u)
	}
	e.Title = describe(e, u, form)
	e.secrets = r.requestSecrets(e, u, form)
	r.mu.Lock()
	defer r.mu.Unlock()
	if form.Get("grant_type") == oauth.GrantTypeTokenExchange {
		r.tokens.Exchanging++
		switch {
		case r.reconnect:
			r.reconnect = false
			e.Title = "Reconnect (you pressed it): " + e.Title
		case r.tokens.Exchanges > 0:
			e.Silent = true
			e.Title = "Silent re-exchange: " + e.Title
		}
	}
	r.seq++
	e.Seq = r.seq
	r.items = append(r.items, e)
	if len(r.items) > maxExchanges {
		r.items = slices.Delete(r.items, 0, len(r.items)-maxExchanges)
	}
}

// finish records the response (or error) and learns token lifetimes.
func (r *Recorder) finish(e *Exchange, h http.Header, err error) {
	form := requestForm(e)
	var tr struct {
		AccessToken     string `json:"access_token"`
		IssuedToken     string `json:"issued_token"`
		IDToken         string `json:"id_token"`
		RefreshToken    string `json:"refresh_token"`
		ExpiresIn       int64  `json:"expires_in"`
		Scope           string `json:"scope"`
		IssuedTokenType string `json:"issued_token_type"`
	}
	isToken := form.Get("grant_type") != ""
	if isToken && err == nil {
		_ = json.Unmarshal(e.respBody, &tr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Duration = time.Since(e.Start)
	e.done = true
	if err != nil {
		e.Err = err.Error()
	}
	// RFC 8693 returns the issued token in access_token, whatever its type;
	// here that is the ID-JAG.
	if tr.IssuedTokenType == oauth.TokenTypeIDJAG && tr.IssuedToken == "" {
		tr.IssuedToken, tr.AccessToken = tr.AccessToken, ""
	}
	for _, v := range []struct{ v, label string }{{tr.AccessToken, "access token"}, {tr.IssuedToken, "ID-JAG"}, {tr.IDToken, "ID token"}, {tr.RefreshToken, "refresh token"}} {
		if v.v != "" {
			e.secrets = append(e.secrets, secret{v.v, revealable, v.label})
		}
	}
	switch form.Get("grant_type") {
	case oauth.GrantTypeTokenExchange:
		r.tokens.Exchanging--
		if err == nil && e.Status >= 400 {
			r.tokens.Refused++
		}
		if e.Status == http.StatusOK && tr.IssuedToken != "" {
			r.tokens.Exchanges++
			if c, ok := jwtClaims(tr.IssuedToken); ok && c.Exp > 0 {
				r.tokens.IDJAGExp = time.Unix(c.Exp, 0)
			} else if tr.ExpiresIn > 0 {
				r.tokens.IDJAGExp = e.Start.Add(time.Duration(tr.ExpiresIn) * time.Second)
			}
		}
	case oauth.GrantTypeJWTBearer:
		if err == nil && e.Status >= 400 {
			r.tokens.Refused++
		}
		if e.Status == http.StatusOK && tr.AccessToken != "" {
			if c, ok := jwtClaims(tr.AccessToken); ok && c.Exp > 0 {
				r.tokens.AccessExp = time.Unix(c.Exp, 0)
			} else if tr.ExpiresIn > 0 {
				r.tokens.AccessExp = e.Start.Add(time.Duration(tr.ExpiresIn) * time.Second)
			}
			if tr.Scope != "" {
				r.tokens.Scopes = strings.Fields(tr.Scope)
			}
		}
	}
}

// requestForm parses a form-encoded request body (token requests).
func requestForm(e *Exchange) url.Values {
	if !strings.HasPrefix(e.reqHeader.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return url.Values{}
	}
	v, err := url.ParseQuery(string(e.reqBody))
	if err != nil {
		return url.Values{}
	}
	return v
}

// Form fields that carry credentials: revealable ones are the learner's own
// tokens and codes; client secrets and client assertions are never shown.
var (
	revealableFields = []string{"subject_token", "actor_token", "assertion", "refresh_token", "code", "code_verifier"}
	neverFields      = []string{"client_secret", "client_assertion", "password"}
	jwtRe            = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
)

func (r *Recorder) requestSecrets(e *Exchange, u *url.URL, form url.Values) []secret {
	var out []secret
	for _, s := range r.never {
		if s != "" {
			out = append(out, secret{s, neverShown, "client secret"})
		}
	}
	for _, f := range neverFields {
		if v := form.Get(f); v != "" {
			out = append(out, secret{v, neverShown, strings.ReplaceAll(f, "_", " ")})
			// The form encoding of the value, as it appears in the raw body.
			out = append(out, secret{url.QueryEscape(v), neverShown, strings.ReplaceAll(f, "_", " ")})
		}
	}
	for _, f := range revealableFields {
		for _, v := range append(form[f], u.Query()[f]...) {
			if v != "" {
				out = append(out, secret{v, revealable, strings.ReplaceAll(f, "_", " ")})
			}
		}
	}
	if a := e.reqHeader.Get("Authorization"); a != "" {
		scheme, cred, _ := strings.Cut(a, " ")
		// A DPoP-bound access token (RFC 9449 7.1) is the learner's token too.
		if strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "DPoP") {
			out = append(out, secret{cred, revealable, "access token"})
		} else {
			out = append(out, secret{cred, neverShown, "client credentials"})
		}
	}
	return out
}

// describe names the step in protocol terms.
func describe(e *Exchange, u *url.URL, form url.Values) string {
	p := u.Path
	switch {
	case strings.Contains(p, "/.well-known/oauth-protected-resource"):
		return "Protected resource metadata (RFC 9728)"
	case strings.Contains(p, "/.well-known/openid-configuration"):
		return "OpenID Provider metadata"
	case strings.Contains(p, "/.well-known/oauth-authorization-server"):
		return "Authorization server metadata (RFC 8414)"
	case strings.HasSuffix(p, "jwks") || strings.HasSuffix(p, "jwks.json"):
		return "Signing keys (JWKS)"
	}
	switch form.Get("grant_type") {
	case oauth.GrantTypeTokenExchange:
		return "Token exchange (RFC 8693): ID token → ID-JAG"
	case oauth.GrantTypeJWTBearer:
		return "JWT bearer grant (RFC 7523): ID-JAG → access token"
	case "refresh_token":
		return "Refresh grant: renew the expired ID token"
	case "authorization_code":
		return "Authorization code → ID token (sign-in)"
	}
	if e.Lane == LaneMCP && len(e.reqBody) > 0 {
		var rpc struct {
			Method string `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		if json.Unmarshal(e.reqBody, &rpc) == nil && rpc.Method != "" {
			t := "MCP " + rpc.Method
			if rpc.Params.Name != "" {
				t += " " + rpc.Params.Name
			}
			if e.reqHeader.Get("Authorization") == "" {
				t += " (no token yet)"
			}
			return t
		}
		if e.reqHeader.Get("Authorization") == "" {
			return "MCP probe without a token (expects 401)"
		}
	}
	if e.Lane == LaneMCP && e.Method == http.MethodDelete {
		return "MCP end session"
	}
	return e.Method + " " + p
}
