package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// DPoP for Agent0 (Config.DPoP, off by default). The Go MCP SDK's
// EnterpriseHandler knows nothing of DPoP, so Agent0 adds it underneath, in
// the HTTP transport of the user's connection, with one key per connection:
//
//   - the token exchange at the IdP and the jwt-bearer grant at the AS get a
//     proof for their token endpoint (the IdP binds the ID-JAG, the AS the
//     access token);
//   - the exchange's answer must be an ID-JAG bound to this key (cnf.jkt),
//     or the IdP silently ignored the proof and the flow stops (ID-JAG
//     draft: the client SHOULD check, against downgrade);
//   - calls to Todo0 MCP, which the SDK makes with "Bearer", go out with the
//     DPoP scheme and a proof carrying ath.
type dpopTransport struct {
	base   http.RoundTripper
	key    *dpop.Key
	mcpURL *url.URL
	now    func() time.Time
}

func newDPoPTransport(base http.RoundTripper, mcpURL string, now func() time.Time) (*dpopTransport, error) {
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := dpop.NewKey(pk, jose.ES256)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(mcpURL)
	if err != nil {
		return nil, err
	}
	return &dpopTransport{base: base, key: k, mcpURL: u, now: now}, nil
}

func (t *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	grant := ""
	if req.Method == http.MethodPost && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		if f, err := url.ParseQuery(string(b)); err == nil {
			grant = f.Get("grant_type")
		}
	}
	switch {
	case grant == oauth.GrantTypeTokenExchange || grant == oauth.GrantTypeJWTBearer:
		p, err := t.key.Proof(http.MethodPost, req.URL.String(), "", t.now())
		if err != nil {
			return nil, err
		}
		req.Header.Set(dpop.Header, p)
	case t.isMCP(req.URL) && strings.HasPrefix(req.Header.Get("Authorization"), "Bearer "):
		tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
		p, err := t.key.Proof(req.Method, req.URL.String(), tok, t.now())
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", dpop.Scheme+" "+tok)
		req.Header.Set(dpop.Header, p)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || grant != oauth.GrantTypeTokenExchange || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	// The answer to a proof-carrying exchange must be bound to our key.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(body, &tr)
	_, claims, perr := jwtverify.Peek(tr.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if jkt, _ := cnf["jkt"].(string); perr != nil || jkt != t.key.JKT() {
		return nil, fmt.Errorf("the IdP's ID-JAG is not bound to Agent0's DPoP key (cnf.jkt %v); refusing it rather than using an unbound grant", cnf["jkt"])
	}
	return resp, nil
}

// isMCP reports a request to the Todo0 MCP endpoint.
func (t *dpopTransport) isMCP(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, t.mcpURL.Scheme) && strings.EqualFold(u.Host, t.mcpURL.Host) && u.Path == t.mcpURL.Path
}
