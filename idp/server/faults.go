package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Faults the IdP can be switched into (issue 5). Each makes the next ID-JAGs
// wrong in one way that the resource AS must notice (checklist 3).
const (
	FaultWrongAud       = "id_jag.wrong_aud"
	FaultWrongTyp       = "id_jag.wrong_typ"
	FaultExpired        = "id_jag.expired"
	FaultMissingJTI     = "id_jag.missing_jti"
	FaultWrongClientID  = "id_jag.wrong_client_id"
	FaultUnpublishedKey = "id_jag.unpublished_key"
)

func newFaultSet() *faults.Set {
	return faults.NewSet(
		faults.Fault{Name: FaultWrongAud, Description: "ID-JAG aud is the IdP's own issuer instead of the resource AS issuer (AS check 3.4)"},
		faults.Fault{Name: FaultWrongTyp, Description: "ID-JAG typ header is JWT instead of oauth-id-jag+jwt (AS check 3.1)"},
		faults.Fault{Name: FaultExpired, Description: "ID-JAG exp is already in the past (AS check 3.6)"},
		faults.Fault{Name: FaultMissingJTI, Description: "ID-JAG omits the required jti claim (AS check 3.7 / missing required claim)"},
		faults.Fault{Name: FaultWrongClientID, Description: "ID-JAG client_id is the client's IdP id, not its id at the resource AS (AS check 3.5)"},
		faults.Fault{Name: FaultUnpublishedKey, Description: "ID-JAG is signed by a key that is not in the IdP's JWKS (AS check 3.3)"},
	)
}

// Faults is the IdP's fault switchboard (also served at /admin/api/faults).
func (s *Server) Faults() *faults.Set { return s.faults }

// applyFaults bends freshly built ID-JAG claims as the active faults say and
// returns the typ to sign with.
func (s *Server) applyFaults(c *idJAGClaims, idpClientID string) string {
	typ := oauth.TypIDJAG
	if s.faults.On(FaultWrongAud) {
		c.Audience = jwt.Audience{s.cfg.Issuer}
	}
	if s.faults.On(FaultWrongTyp) {
		typ = oauth.TypJWT
	}
	if s.faults.On(FaultExpired) {
		// Far enough in the past that no clock skew allowance covers it.
		past := s.now().Add(-s.cfg.IDJAGTTL - 10*max(s.cfg.ClockSkew, 60e9))
		c.IssuedAt = jwt.NewNumericDate(past.Add(-s.cfg.IDJAGTTL))
		c.Expiry = jwt.NewNumericDate(past)
	}
	if s.faults.On(FaultMissingJTI) {
		c.ID = "" // omitempty drops the claim
	}
	if s.faults.On(FaultWrongClientID) {
		if idpClientID != c.ClientID {
			c.ClientID = idpClientID
		} else {
			c.ClientID = "not-" + c.ClientID
		}
	}
	return typ
}

// signIDJAG signs with the ID-token key, or with the rogue key under
// id_jag.unpublished_key.
func (s *Server) signIDJAG(typ string, c idJAGClaims, extra map[string]any) (string, error) {
	if !s.faults.On(FaultUnpublishedKey) {
		if extra != nil {
			return s.keys.Sign(typ, c, extra)
		}
		return s.keys.Sign(typ, c)
	}
	k, err := s.rogueKey()
	if err != nil {
		return "", err
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: s.keys.Algorithm(), Key: k}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	b := jwt.Signed(sg).Claims(c)
	if extra != nil {
		b = b.Claims(extra)
	}
	return b.Serialize()
}

var rogue struct {
	once sync.Once
	keys map[jose.SignatureAlgorithm]jose.JSONWebKey
	err  error
}

// rogueKey is a key of the IdP's algorithm that is never published. It lives
// only in memory.
func (s *Server) rogueKey() (jose.JSONWebKey, error) {
	rogue.once.Do(func() {
		rogue.keys = map[jose.SignatureAlgorithm]jose.JSONWebKey{}
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			rogue.err = err
			return
		}
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			rogue.err = err
			return
		}
		rogue.keys[jose.RS256] = jose.JSONWebKey{Key: rk, KeyID: "unpublished-rsa", Algorithm: string(jose.RS256)}
		rogue.keys[jose.ES256] = jose.JSONWebKey{Key: ek, KeyID: "unpublished-ec", Algorithm: string(jose.ES256)}
	})
	return rogue.keys[s.keys.Algorithm()], rogue.err
}
