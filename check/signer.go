package check

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/internal/jwtforge"
)

// Signer is who the checker signs tokens as: an issuer the implementation
// under test trusts and that issuer's private signing key. With the sandbox
// that is a party's issuer URL and the key in its data directory (LoadSigner).
type Signer struct {
	Issuer string
	Key    *jose.JSONWebKey // private; Key.KeyID and Key.Algorithm are used as kid and alg
}

// LoadSigner reads a sandbox party's active signing key from the database
// file db ("idp.db", "todo0.db") in its data directory.
func LoadSigner(ctx context.Context, issuer, dataDir, db string) (Signer, error) {
	k, err := jwtforge.ActiveKey(ctx, dataDir, db)
	if err != nil {
		return Signer{}, err
	}
	return Signer{Issuer: issuer, Key: k}, nil
}

func (p Signer) validate() error {
	if p.Issuer == "" || p.Key == nil || p.Key.Key == nil {
		return errors.New("check: a signer needs an issuer and its private signing key")
	}
	if p.Key.IsPublic() {
		return errors.New("check: the signing key must be the private key")
	}
	return nil
}

// How a forged token is signed.
type signing int

const (
	signIdP            signing = iota // the IdP's real key: only the claims are wrong
	signNone                          // alg none, no signature
	signAttacker                      // a key the IdP never published, under an unknown kid
	signAttackerIdPKid                // a key the IdP never published, under the IdP's kid
	signHS256Public                   // HS256 with the IdP's public key as the secret
	signTampered                      // signed by the IdP, then the payload changed
)

// forger signs ID-JAGs for one checker run.
type forger struct {
	idp      Signer
	attacker any // generated per run, same key type as the IdP's
}

func newForger(p Signer) (*forger, error) {
	f := &forger{idp: p}
	var err error
	switch p.Key.Key.(type) {
	case *ecdsa.PrivateKey:
		f.attacker, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		f.attacker, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	return f, err
}

func (f *forger) alg() jose.SignatureAlgorithm {
	if f.idp.Key.Algorithm != "" {
		return jose.SignatureAlgorithm(f.idp.Key.Algorithm)
	}
	if _, ok := f.idp.Key.Key.(*ecdsa.PrivateKey); ok {
		return jose.ES256
	}
	return jose.RS256
}

// sign makes the token. header holds every header field but alg (and kid,
// which is the IdP's unless the case sets or removes it).
func (f *forger) sign(how signing, header, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	switch how {
	case signNone:
		return jwtforge.Unsigned(header, payload), nil
	case signAttacker:
		header["kid"] = "xaa-check-unknown-kid"
		return jwtforge.Sign(f.alg(), f.attacker, header, payload)
	case signAttackerIdPKid:
		return jwtforge.Sign(f.alg(), f.attacker, header, payload)
	case signHS256Public:
		der, err := x509.MarshalPKIXPublicKey(f.idp.Key.Public().Key)
		if err != nil {
			return "", err
		}
		return jwtforge.Sign(jose.HS256, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), header, payload)
	case signTampered:
		tok, err := jwtforge.Sign(f.alg(), f.idp.Key.Key, header, payload)
		if err != nil {
			return "", err
		}
		claims["sub"] = fmt.Sprint(claims["sub"]) + "-tampered"
		changed, err := json.Marshal(claims)
		if err != nil {
			return "", err
		}
		parts := strings.Split(tok, ".")
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + parts[2], nil
	default:
		return jwtforge.Sign(f.alg(), f.idp.Key.Key, header, payload)
	}
}
