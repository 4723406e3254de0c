// Package dpop is OAuth 2.0 Demonstrating Proof of Possession (RFC 9449) for
// every party of the sandbox: the IdP checks a proof at the token exchange
// and binds the ID-JAG to its key, the Todo0 authorization server checks one
// at redemption and binds the access token, Todo0 MCP checks one on every
// request with a DPoP-bound token, and Agent0 makes them. One package, so
// the four agree on what a valid proof is.
package dpop

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Typ is the JOSE typ of a DPoP proof (RFC 9449 4.2).
const Typ = "dpop+jwt"

// Header is the HTTP header that carries a proof; Scheme is the
// Authorization scheme of a DPoP-bound access token (RFC 9449 7.1).
const (
	Header = "DPoP"
	Scheme = "DPoP"
)

// Error codes (RFC 9449 5 and 7.1).
const (
	ErrCodeInvalidProof = "invalid_dpop_proof"
)

// ErrInvalidProof wraps every reason a proof is refused; test with errors.Is.
var ErrInvalidProof = errors.New("invalid DPoP proof")

// Algorithms are the asymmetric algorithms a proof may use; never none or
// HMAC (RFC 9449 4.3 item 5).
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256, jose.EdDSA}

// AlgorithmNames are Algorithms as metadata lists them
// (dpop_signing_alg_values_supported).
func AlgorithmNames() []string {
	out := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		out[i] = string(a)
	}
	return out
}

// Replay remembers proof jti values until they expire (shared/replay.Store).
type Replay interface {
	Use(ctx context.Context, namespace, issuer, jti string, exp time.Time) error
}

// Verifier checks proofs (RFC 9449 4.3).
type Verifier struct {
	// MaxAge is how old a proof's iat may be (1 minute).
	MaxAge time.Duration
	// Skew tolerates clocks ahead of ours (5 seconds).
	Skew time.Duration
	// Replay, when set, refuses a jti seen before (RFC 9449 11.1).
	Replay Replay
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint of the proof's key (RFC 7638), the
	// value a bound token carries in cnf.jkt.
	JKT string
	JTI string
	Key jose.JSONWebKey
}

// Request is what a proof must match.
type Request struct {
	Method string // htm
	URL    string // htu: compared without query and fragment
	// AccessToken, when set, must match the proof's ath (RFC 9449 4.3 item 11).
	AccessToken string
}

// Verify checks the DPoP header values of one request. values is every
// DPoP header the request carried: exactly one is allowed.
func (v *Verifier) Verify(ctx context.Context, values []string, req Request) (*Proof, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidProof, fmt.Sprintf(format, args...))
	}
	if len(values) != 1 {
		return nil, bad("send exactly one DPoP header, not %d", len(values))
	}
	raw := values[0]
	jws, err := jose.ParseSigned(raw, Algorithms)
	if err != nil {
		return nil, bad("not a JWS signed with an allowed asymmetric algorithm: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, bad("want exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Typ {
		return nil, bad("typ is %q, want %s", typ, Typ)
	}
	if h.JSONWebKey == nil {
		return nil, bad("the header carries no jwk")
	}
	if !h.JSONWebKey.IsPublic() {
		return nil, bad("the jwk header holds a private key")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return nil, bad("signature does not verify with the jwk header: %v", err)
	}
	var c struct {
		JTI string `json:"jti"`
		HTM string `json:"htm"`
		HTU string `json:"htu"`
		IAT *int64 `json:"iat"`
		ATH string `json:"ath"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, bad("claims are not a JSON object")
	}
	switch {
	case c.JTI == "":
		return nil, bad("jti is missing")
	case c.IAT == nil:
		return nil, bad("iat is missing")
	case c.HTM != req.Method:
		return nil, bad("htm is %q, this request is %s", c.HTM, req.Method)
	}
	if !sameURI(c.HTU, req.URL) {
		return nil, bad("htu is %q, this request is to %s", c.HTU, stripURI(req.URL))
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	maxAge, skew := v.MaxAge, v.Skew
	if maxAge == 0 {
		maxAge = time.Minute
	}
	if skew == 0 {
		skew = 5 * time.Second
	}
	iat := time.Unix(*c.IAT, 0)
	if iat.After(now.Add(skew)) {
		return nil, bad("iat is in the future")
	}
	if iat.Before(now.Add(-maxAge - skew)) {
		return nil, bad("iat is older than %s", maxAge)
	}
	if req.AccessToken != "" {
		if c.ATH == "" {
			return nil, bad("ath is missing; a proof sent with an access token must hash it")
		}
		if c.ATH != TokenHash(req.AccessToken) {
			return nil, bad("ath does not match the access token")
		}
	}
	jkt, err := Thumbprint(*h.JSONWebKey)
	if err != nil {
		return nil, bad("%v", err)
	}
	if v.Replay != nil {
		if err := v.Replay.Use(ctx, "dpop", jkt, c.JTI, iat.Add(maxAge+2*skew)); err != nil {
			return nil, bad("jti %q was used before: %v", c.JTI, err)
		}
	}
	return &Proof{JKT: jkt, JTI: c.JTI, Key: *h.JSONWebKey}, nil
}

// Thumbprint is the base64url JWK SHA-256 thumbprint of a key (RFC 7638).
func Thumbprint(k jose.JSONWebKey) (string, error) {
	pub := k.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwk thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// TokenHash is the ath of an access token: base64url SHA-256 of its ASCII.
func TokenHash(accessToken string) string {
	h := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// stripURI drops query and fragment (RFC 9449 4.3 item 9).
func stripURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.String()
}

// sameURI compares htu with the request URL, without query and fragment,
// scheme and host case-insensitively (RFC 9449 4.3 item 9, RFC 3986 6.2.2.1).
func sameURI(htu, want string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || htu == "" {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host) && a.EscapedPath() == b.EscapedPath()
}

// Key is a client's proof key.
type Key struct {
	signer jose.Signer
	public jose.JSONWebKey
}

// NewKey wraps a private key (an *ecdsa.PrivateKey, say) for making proofs.
func NewKey(private any, alg jose.SignatureAlgorithm) (*Key, error) {
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(Typ)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: private}, opts)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: private, Algorithm: string(alg)}
	return &Key{signer: s, public: jwk.Public()}, nil
}

// JKT is the key's thumbprint, the cnf.jkt a token bound to it carries.
func (k *Key) JKT() string {
	t, _ := Thumbprint(k.public)
	return t
}

// Proof makes a proof for one request (RFC 9449 4.2): htm, htu (without
// query and fragment), a fresh jti, iat now, and ath when accessToken is set.
func (k *Key) Proof(method, rawURL, accessToken string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	c := map[string]any{"jti": base64.RawURLEncoding.EncodeToString(jti), "htm": method, "htu": stripURI(rawURL), "iat": now.Unix()}
	if accessToken != "" {
		c["ath"] = TokenHash(accessToken)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
