// Package jwtverify verifies a signed JWT in the order the checklist gives,
// cheapest check first: typ, alg, issuer, kid, signature, aud, times, claims.
//
// go-jose checks neither typ nor replay, and skips empty Expected fields, so
// every check here is explicit; the caller adds what is specific to its token
// (client_id, jti replay, resource, scope).
package jwtverify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jsonobj"
)

// Errors, one per check. Verify wraps them with details; test with errors.Is.
var (
	ErrMalformed      = errors.New("malformed JWT")
	ErrTyp            = errors.New("wrong typ header")
	ErrAlg            = errors.New("algorithm not allowed")
	ErrIssuer         = errors.New("untrusted issuer")
	ErrKey            = errors.New("signing key not found")
	ErrSignature      = errors.New("invalid signature")
	ErrAudience       = errors.New("wrong audience")
	ErrExpired        = errors.New("token expired")
	ErrNotYetValid    = errors.New("token not yet valid (nbf)")
	ErrIssuedInFuture = errors.New("token issued in the future (iat)")
	ErrTooOld         = errors.New("token issued too long ago (iat)")
	ErrMissingClaim   = errors.New("required claim missing")
)

// KeySource resolves a kid to a public key.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// DefaultAlgorithms are the asymmetric algorithms accepted when a Verifier
// names none. No "none", no HMAC: a public key must never verify an HS256 MAC.
var DefaultAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.ES384, jose.RS384}

// Verifier holds what a token must satisfy.
type Verifier struct {
	// Typ is the required JOSE typ header, compared case-insensitively with an
	// optional "application/" prefix (RFC 7515 4.1.9). Empty skips the check.
	Typ string
	// Algorithms allowed; DefaultAlgorithms when empty.
	Algorithms []jose.SignatureAlgorithm
	// Issuers maps each trusted issuer to the keys that may sign for it.
	Issuers map[string]KeySource
	// Audience must equal aud exactly: a string, or an array of exactly one
	// element. Empty skips the check (the caller checks aud itself).
	Audience string
	// Skew is the clock tolerance for exp, nbf and iat.
	Skew time.Duration
	// MaxAge, when set, refuses tokens whose iat is older than this.
	MaxAge time.Duration
	// Required claims besides iss, which is always required.
	Required []string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Token is a verified JWT.
type Token struct {
	Header jose.Header
	Typ    string
	Claims jwt.Claims
	// Raw holds every claim as JSON, for the caller's own checks.
	Raw map[string]json.RawMessage
}

// String returns the string value of claim name, or "".
func (t *Token) String(name string) string {
	var s string
	if raw, ok := t.Raw[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

type header struct {
	Alg, Typ, Kid string
}

// decodeHeader reads alg, typ and kid by their exact names (RFC 7515 4:
// header parameter names are case-sensitive and unique). encoding/json would
// match "Typ" or "TYP" too and let the last duplicate win, so a header the
// signing library reads one way could pass the typ check read another way.
func decodeHeader(seg string) (header, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return header{}, fmt.Errorf("%w: header is not base64url JSON", ErrMalformed)
	}
	m, err := jsonobj.Members(b)
	if errors.Is(err, jsonobj.ErrAmbiguous) {
		return header{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if err != nil {
		return header{}, fmt.Errorf("%w: header is not base64url JSON", ErrMalformed)
	}
	var h header
	for name, dst := range map[string]*string{"alg": &h.Alg, "typ": &h.Typ, "kid": &h.Kid} {
		if *dst, err = jsonobj.String(m, name); err != nil {
			return header{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
		}
	}
	return h, nil
}

// Peek decodes the header and claims without verifying anything. It is for
// display (the narrator, the inspector), never for a decision.
func Peek(raw string) (hdr map[string]any, claims map[string]any, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMalformed, len(parts))
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	return hdr, claims, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// TypMatches compares typ header values the way RFC 7515 4.1.9 says:
// case-insensitively, with "application/" optional.
func TypMatches(got, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return norm(got) == norm(want)
}

// Verify checks raw and returns its claims. dest, if given, also receive the
// claims (structs with json tags).
func (v *Verifier) Verify(ctx context.Context, raw string, dest ...any) (*Token, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: a signed JWT has 3 dot-separated parts, this has %d", ErrMalformed, len(parts))
	}
	h, err := decodeHeader(parts[0])
	if err != nil {
		return nil, err
	}
	// 1. typ
	if v.Typ != "" && !TypMatches(h.Typ, v.Typ) {
		if h.Typ == "" {
			return nil, fmt.Errorf("%w: typ header missing, want %q", ErrTyp, v.Typ)
		}
		return nil, fmt.Errorf("%w: typ is %q, want %q", ErrTyp, h.Typ, v.Typ)
	}
	// 2. alg
	algs := v.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	if !slices.Contains(algs, jose.SignatureAlgorithm(h.Alg)) {
		return nil, fmt.Errorf("%w: alg %q (allowed: %v)", ErrAlg, h.Alg, algs)
	}
	sig, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// The payload is decoded once, into its members. go-jose's JSON reads
	// names exactly and refuses a duplicate name, as it does for the claims
	// struct; each claim is decoded from its member below.
	payload := sig.UnsafePayloadWithoutVerification()
	var members map[string]json.RawMessage
	if err := josejson.Unmarshal(payload, &members); err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	// 3. iss (read unverified only to pick the key source)
	var iss string
	if err := claim(members, "iss", &iss); err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	if iss == "" {
		return nil, fmt.Errorf("%w: iss", ErrMissingClaim)
	}
	keys, ok := v.Issuers[iss]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a trusted issuer", ErrIssuer, iss)
	}
	// 4. kid
	if h.Kid == "" {
		return nil, fmt.Errorf("%w: the header has no kid", ErrKey)
	}
	key, err := keys.Key(ctx, h.Kid)
	if err != nil {
		return nil, fmt.Errorf("%w: kid %q is not in %s's JWKS", ErrKey, h.Kid, iss)
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return nil, fmt.Errorf("%w: kid %q is a %s key, token says %s", ErrAlg, h.Kid, key.Algorithm, h.Alg)
	}
	// 5. signature
	if _, err := sig.Verify(key.Key); err != nil {
		return nil, fmt.Errorf("%w: does not verify with kid %q", ErrSignature, h.Kid)
	}
	// Verified; now decode (a payload that is not the right JSON shape is malformed).
	t := &Token{Header: sig.Signatures[0].Header, Typ: h.Typ, Raw: members}
	c := &t.Claims
	if err := errors.Join(claim(members, "iss", &c.Issuer), claim(members, "sub", &c.Subject), claim(members, "aud", &c.Audience),
		claim(members, "exp", &c.Expiry), claim(members, "nbf", &c.NotBefore), claim(members, "iat", &c.IssuedAt), claim(members, "jti", &c.ID)); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	for _, d := range dest {
		if err := josejson.Unmarshal(payload, d); err != nil {
			return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
		}
	}
	// 6. aud
	if v.Audience != "" {
		if err := checkAudience(t.Raw["aud"], v.Audience); err != nil {
			return nil, err
		}
	}
	// 7. times
	n := now()
	if t.Claims.Expiry == nil {
		return nil, fmt.Errorf("%w: exp", ErrMissingClaim)
	}
	if exp := t.Claims.Expiry.Time(); !n.Before(exp.Add(v.Skew)) {
		return nil, fmt.Errorf("%w at %s (%s ago)", ErrExpired, exp.UTC().Format(time.RFC3339), n.Sub(exp).Round(time.Second))
	}
	if t.Claims.NotBefore != nil {
		if nbf := t.Claims.NotBefore.Time(); n.Add(v.Skew).Before(nbf) {
			return nil, fmt.Errorf("%w until %s", ErrNotYetValid, nbf.UTC().Format(time.RFC3339))
		}
	}
	if t.Claims.IssuedAt != nil {
		iat := t.Claims.IssuedAt.Time()
		if n.Add(v.Skew).Before(iat) {
			return nil, fmt.Errorf("%w: %s", ErrIssuedInFuture, iat.UTC().Format(time.RFC3339))
		}
		if v.MaxAge > 0 && n.Sub(iat) > v.MaxAge+v.Skew {
			return nil, fmt.Errorf("%w: %s, limit %s", ErrTooOld, iat.UTC().Format(time.RFC3339), v.MaxAge)
		}
	}
	// 8. required claims
	// An empty string or null is no more an identifier than an absent claim.
	for _, name := range v.Required {
		if raw, ok := t.Raw[name]; !ok || string(raw) == "null" || string(raw) == `""` {
			return nil, fmt.Errorf("%w: %s", ErrMissingClaim, name)
		}
	}
	return t, nil
}

// claim decodes member name of a payload into dst, as decoding the whole
// payload into a struct with that field would; an absent member leaves dst
// as it is.
func claim(members map[string]json.RawMessage, name string, dst any) error {
	raw, ok := members[name]
	if !ok {
		return nil
	}
	return josejson.Unmarshal(raw, dst)
}

// Claim decodes the claim name into dst (a pointer) with the exact JSON
// rules the verifier uses for its own claims; an absent claim leaves dst
// as it is.
func (t *Token) Claim(name string, dst any) error {
	return claim(t.Raw, name, dst)
}

func checkAudience(raw json.RawMessage, want string) error {
	if raw == nil {
		return fmt.Errorf("%w: aud claim missing", ErrMissingClaim)
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one != want {
			return fmt.Errorf("%w: aud is %q, want exactly %q", ErrAudience, one, want)
		}
		return nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return fmt.Errorf("%w: aud is neither a string nor an array of strings", ErrAudience)
	}
	if len(many) != 1 {
		return fmt.Errorf("%w: aud has %d values; exactly one (%q) is accepted", ErrAudience, len(many), want)
	}
	if many[0] != want {
		return fmt.Errorf("%w: aud is %q, want exactly %q", ErrAudience, many[0], want)
	}
	return nil
}
