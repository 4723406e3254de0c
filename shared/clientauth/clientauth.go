// Package clientauth authenticates OAuth clients at a token endpoint with
// client_secret_basic, client_secret_post or private_key_jwt (RFC 6749 2.3,
// RFC 7523 2.2). The IdP and the Todo0 authorization server both use it, so the
// rules cannot drift apart.
package clientauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
)

// ErrUnknownClient is what a Registry returns for a client id it does not know.
var ErrUnknownClient = errors.New("clientauth: unknown client")

// Client is what a token endpoint knows about a registered client.
type Client struct {
	ID string
	// SecretHash is SHA-256 of the client secret (secrets are generated with
	// high entropy, so a fast hash is enough); nil when the client has none.
	SecretHash []byte
	// Methods are the token_endpoint_auth_methods the client may use.
	Methods []string
	// Keys verify private_key_jwt assertions; nil when the client has none.
	Keys jwtverify.KeySource
}

// HashSecret returns the stored form of a client secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Registry looks clients up by id.
type Registry interface {
	Client(ctx context.Context, id string) (*Client, error)
}

// Authenticator authenticates clients for one token endpoint.
type Authenticator struct {
	Clients Registry
	// Audiences are the values a client assertion's aud may hold: the issuer
	// and the token endpoint URL (RFC 7523 3, item 3).
	Audiences []string
	// Replay rejects a client assertion jti seen before.
	Replay *replay.Store
	// Skew is the clock tolerance for assertion times.
	Skew time.Duration
	// MaxAssertionAge bounds iat of an assertion (default 5 minutes).
	MaxAssertionAge time.Duration
	// MaxAssertionLifetime bounds exp - iat of an assertion (default 1 hour,
	// what golang.org/x/oauth2/jwt issues). The jti is remembered until exp, so
	// an assertion valid for years would hold a replay record for years.
	MaxAssertionLifetime time.Duration
}

// Methods is what the token endpoint advertises.
var Methods = []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost, oauth.AuthMethodPrivateKeyJWT}

// Authenticate identifies and authenticates the client of a token request.
// Errors are *oauth.Error: invalid_request for a malformed attempt,
// invalid_client (401) for failed authentication.
func (a *Authenticator) Authenticate(r *http.Request, form url.Values) (*Client, string, error) {
	user, pass, hasBasic := basicAuth(r)
	hasHeader := r.Header.Get("Authorization") != ""
	hasSecret := form.Has("client_secret")
	hasAssertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	n := 0
	for _, b := range []bool{hasHeader, hasSecret, hasAssertion} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, "", oauth.InvalidRequest("use exactly one client authentication method (RFC 6749 2.3)")
	case hasHeader && !hasBasic:
		return nil, "", oauth.InvalidClient(true, "the Authorization header must be HTTP Basic with client_id:client_secret")
	case hasBasic:
		// RFC 6749 2.3.1 says both halves are form-urlencoded; some clients
		// (the TypeScript MCP SDK among them) send them raw. Accept either:
		// the decoded form first, then the raw bytes.
		id, err := url.QueryUnescape(user)
		if err != nil {
			id = user
		}
		if fid := form.Get("client_id"); fid != "" && fid != id && fid != user {
			return nil, "", oauth.InvalidClient(true, "client_id in the body differs from the HTTP Basic user")
		}
		secrets := []string{pass}
		if dec, err := url.QueryUnescape(pass); err == nil && dec != pass {
			secrets = []string{dec, pass}
		}
		c, err := a.secret(r.Context(), id, secrets, oauth.AuthMethodClientSecretBasic, true)
		return c, oauth.AuthMethodClientSecretBasic, err
	case hasSecret:
		id := form.Get("client_id")
		if id == "" {
			return nil, "", oauth.InvalidClient(false, "client_secret sent without client_id")
		}
		c, err := a.secret(r.Context(), id, []string{form.Get("client_secret")}, oauth.AuthMethodClientSecretPost, false)
		return c, oauth.AuthMethodClientSecretPost, err
	case hasAssertion:
		c, err := a.assertion(r.Context(), form)
		return c, oauth.AuthMethodPrivateKeyJWT, err
	}
	if id := form.Get("client_id"); id != "" {
		return nil, "", oauth.InvalidClient(false, "client %q sent no credentials; this endpoint serves confidential clients only", id)
	}
	return nil, "", oauth.InvalidClient(false, "client authentication required (client_secret_basic, client_secret_post or private_key_jwt)")
}

func basicAuth(r *http.Request) (user, pass string, ok bool) {
	h := r.Header.Get("Authorization")
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok
}

func (a *Authenticator) lookup(ctx context.Context, id, method string, basic bool) (*Client, error) {
	c, err := a.Clients.Client(ctx, id)
	if errors.Is(err, ErrUnknownClient) {
		return nil, oauth.InvalidClient(basic, "unknown client %q", id)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if !slices.Contains(c.Methods, method) {
		return nil, oauth.InvalidClient(basic, "client %q is not registered for %s (registered: %s)", id, method, strings.Join(c.Methods, ", "))
	}
	return c, nil
}

// secret checks the client's secret against each candidate (the decoded and
// the raw form of a Basic password), every one in constant time.
func (a *Authenticator) secret(ctx context.Context, id string, candidates []string, method string, basic bool) (*Client, error) {
	c, err := a.lookup(ctx, id, method, basic)
	if err != nil {
		return nil, err
	}
	match := 0
	for _, cand := range candidates {
		match |= subtle.ConstantTimeCompare(HashSecret(cand), c.SecretHash)
	}
	if c.SecretHash == nil || match != 1 {
		return nil, oauth.InvalidClient(basic, "client secret for %q is wrong", id)
	}
	return c, nil
}

func (a *Authenticator) assertion(ctx context.Context, form url.Values) (*Client, error) {
	if form.Get("client_assertion_type") != oauth.ClientAssertionTypeJWTBearer {
		return nil, oauth.InvalidClient(false, "client_assertion_type must be %s", oauth.ClientAssertionTypeJWTBearer)
	}
	raw := form.Get("client_assertion")
	if raw == "" {
		return nil, oauth.InvalidClient(false, "client_assertion is missing")
	}
	_, claims, err := jwtverify.Peek(raw)
	if err != nil {
		return nil, oauth.InvalidClient(false, "client_assertion is not a JWT")
	}
	id, _ := claims["sub"].(string)
	if iss, _ := claims["iss"].(string); iss != id || id == "" {
		return nil, oauth.InvalidClient(false, "client_assertion iss and sub must both be the client_id (RFC 7523 3)")
	}
	if fid := form.Get("client_id"); fid != "" && fid != id {
		return nil, oauth.InvalidClient(false, "client_id differs from the client_assertion subject")
	}
	c, err := a.lookup(ctx, id, oauth.AuthMethodPrivateKeyJWT, false)
	if err != nil {
		return nil, err
	}
	if c.Keys == nil {
		return nil, oauth.InvalidClient(false, "client %q has no registered keys", id)
	}
	maxAge := a.MaxAssertionAge
	if maxAge == 0 {
		maxAge = 5 * time.Minute
	}
	v := jwtverify.Verifier{
		Issuers: map[string]jwtverify.KeySource{id: c.Keys},
		Skew:    a.Skew,
		MaxAge:  maxAge,
		// iat: without it MaxAge cannot bound the assertion's age (RFC 7523 3 item 6
		// makes iat optional; this server requires it).
		Required: []string{"sub", "aud", "exp", "jti", "iat"},
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, oauth.InvalidClient(false, "client_assertion: %v", err)
	}
	lifetime := a.MaxAssertionLifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	if life := tok.Claims.Expiry.Time().Sub(tok.Claims.IssuedAt.Time()); life > lifetime+a.Skew {
		return nil, oauth.InvalidClient(false, "client_assertion lives %s (exp - iat); at most %s is accepted", life.Round(time.Second), lifetime)
	}
	if !audienceOneOf(tok.Raw["aud"], a.Audiences) {
		return nil, oauth.InvalidClient(false, "client_assertion aud must be this server's issuer or token endpoint (%s)", strings.Join(a.Audiences, " or "))
	}
	if err := a.Replay.Use(ctx, "client_assertion", id, tok.Claims.ID, tok.Claims.Expiry.Time()); err != nil {
		if errors.Is(err, replay.ErrReplayed) {
			return nil, oauth.InvalidClient(false, "client_assertion jti was already used")
		}
		return nil, oauth.ServerError(err)
	}
	return c, nil
}

func audienceOneOf(raw json.RawMessage, allowed []string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return slices.Contains(allowed, one)
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, a := range many {
		if slices.Contains(allowed, a) {
			return true
		}
	}
	return false
}

// String is for logs.
func (c *Client) String() string { return fmt.Sprintf("client %s", c.ID) }
