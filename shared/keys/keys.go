// Package keys keeps a party's signing keys in its SQLite database, so they
// survive restarts, signs JWTs with the active key and serves the public JWKS.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Migration creates the keys table; parties append it to their own migrations.
const Migration = `CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	alg        TEXT NOT NULL,
	jwk        TEXT NOT NULL,     -- private JWK (JSON); this database is the key store
	created_at INTEGER NOT NULL,
	retired_at INTEGER            -- set when a newer key took over signing
);`

// Supported signing algorithms. RS256 is what every OIDC relying party must
// accept; ES256 is the smaller, faster choice.
var Supported = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// Set is a party's signing key set: one active key that signs, plus retired
// keys still published so what they signed keeps verifying.
type Set struct {
	db  *sql.DB
	alg jose.SignatureAlgorithm

	mu      sync.RWMutex
	active  jose.JSONWebKey
	public  []jose.JSONWebKey
	signers map[string]jose.Signer // by typ
	// pending is a published key that starts signing at pendingAt
	// (RotateAfter); zero when there is none.
	pending   jose.JSONWebKey
	pendingAt time.Time
}

// Open loads the key set, generating the first key of alg when there is none.
func Open(ctx context.Context, db *sql.DB, alg jose.SignatureAlgorithm) (*Set, error) {
	if alg == "" {
		alg = jose.RS256
	}
	if !supported(alg) {
		return nil, fmt.Errorf("keys: unsupported signing algorithm %q (want RS256 or ES256)", alg)
	}
	s := &Set{db: db, alg: alg}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if s.active.Key == nil {
		if _, err := s.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func supported(alg jose.SignatureAlgorithm) bool {
	for _, a := range Supported {
		if a == alg {
			return true
		}
	}
	return false
}

func (s *Set) load(ctx context.Context) error {
	// created_at is when a key starts signing: in the future for a key
	// published ahead by RotateAfter.
	rows, err := s.db.QueryContext(ctx, `SELECT kid, alg, jwk, retired_at IS NULL, created_at FROM signing_keys ORDER BY created_at, rowid`)
	if err != nil {
		return fmt.Errorf("keys: load: %w", err)
	}
	defer rows.Close()
	now := time.Now().Unix()
	var active, pending jose.JSONWebKey
	var pendingAt time.Time
	var public []jose.JSONWebKey
	for rows.Next() {
		var kid, alg, raw string
		var isActive bool
		var created int64
		if err := rows.Scan(&kid, &alg, &raw, &isActive, &created); err != nil {
			return err
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON([]byte(raw)); err != nil {
			return fmt.Errorf("keys: key %s is corrupt: %w", kid, err)
		}
		if rk, ok := k.Key.(*rsa.PrivateKey); ok {
			// Once here, not inside every signature (crypto/rsa redoes it
			// per call for a key built from JWK fields).
			rk.Precompute()
		}
		public = append(public, k.Public())
		if !isActive || jose.SignatureAlgorithm(alg) != s.alg {
			continue
		}
		if created <= now {
			active = k
		} else if pending.Key == nil {
			pending, pendingAt = k, time.Unix(created, 0)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.active, s.public, s.signers = active, public, map[string]jose.Signer{}
	s.pending, s.pendingAt = pending, pendingAt
	s.mu.Unlock()
	return nil
}

// RotateAfter publishes a new key now and makes it the signing key only
// after ahead. Verifiers that cache the JWKS and refetch on an unknown kid
// at most every N seconds then never meet a kid they cannot resolve, as
// long as ahead >= N: by the time the new kid appears in a token, a refetch
// is allowed, or already happened. ahead <= 0 is Rotate.
func (s *Set) RotateAfter(ctx context.Context, ahead time.Duration) (string, error) {
	if ahead <= 0 {
		return s.Rotate(ctx)
	}
	k, err := generate(s.alg)
	if err != nil {
		return "", err
	}
	raw, err := k.MarshalJSON()
	if err != nil {
		return "", err
	}
	at := time.Now().Add(ahead).Unix()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO signing_keys(kid, alg, jwk, created_at) VALUES (?, ?, ?, ?)`, k.KeyID, string(s.alg), string(raw), at); err != nil {
		return "", fmt.Errorf("keys: rotate: %w", err)
	}
	return k.KeyID, s.load(ctx)
}

// PendingKeyID is the kid of a key published ahead of signing, and when it
// starts to sign; empty when there is none.
func (s *Set) PendingKeyID() (string, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pending.KeyID, s.pendingAt
}

// promoteDue makes a pending key the signing key once its time has come,
// retiring the keys it replaces as of that moment.
func (s *Set) promoteDue() error {
	s.mu.RLock()
	kid, at := s.pending.KeyID, s.pendingAt
	s.mu.RUnlock()
	if kid == "" || time.Now().Before(at) {
		return nil
	}
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL AND kid <> ? AND created_at <= ?`, at.Unix(), kid, at.Unix()); err != nil {
		return fmt.Errorf("keys: promote %s: %w", kid, err)
	}
	return s.load(ctx)
}

// Rotate generates a new key of the set's algorithm and makes it the signing
// key. Older keys stay published until Prune removes them.
func (s *Set) Rotate(ctx context.Context) (string, error) {
	k, err := generate(s.alg)
	if err != nil {
		return "", err
	}
	raw, err := k.MarshalJSON()
	if err != nil {
		return "", err
	}
	now := time.Now().Unix()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, now); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys(kid, alg, jwk, created_at) VALUES (?, ?, ?, ?)`, k.KeyID, string(s.alg), string(raw), now); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("keys: rotate: %w", err)
	}
	return k.KeyID, s.load(ctx)
}

func generate(alg jose.SignatureAlgorithm) (jose.JSONWebKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		err = fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	k := jose.JSONWebKey{Key: priv, Algorithm: string(alg), Use: "sig"}
	pub := k.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp) // RFC 7638 thumbprint
	return k, nil
}

// Algorithm is the algorithm new tokens are signed with.
func (s *Set) Algorithm() jose.SignatureAlgorithm { return s.alg }

// ActiveKeyID is the kid new tokens carry.
func (s *Set) ActiveKeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.active.KeyID
}

// Sign serializes claims (structs or maps, merged) as a compact JWS with the
// given "typ" header, signed by the active key.
func (s *Set) Sign(typ string, claims ...any) (string, error) {
	signer, err := s.signer(typ)
	if err != nil {
		return "", err
	}
	payload, err := marshalClaims(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// marshalClaims is the JSON payload of claims: one struct or map is
// marshalled once (go-jose's builder marshals, decodes into a map and
// marshals again); several are merged as the builder does, a later claim
// of the same name replacing an earlier one.
func marshalClaims(claims []any) ([]byte, error) {
	for _, c := range claims {
		if _, ok := c.(map[string]any); !ok && reflect.Indirect(reflect.ValueOf(c)).Kind() != reflect.Struct {
			return nil, jwt.ErrInvalidClaims
		}
	}
	if len(claims) == 1 {
		b, err := json.Marshal(claims[0])
		switch {
		case err != nil:
			return nil, err
		case string(b) == "null": // a nil map: no claims
			return []byte("{}"), nil
		case b[0] != '{':
			return nil, jwt.ErrInvalidClaims
		}
		return b, nil
	}
	merged := map[string]json.RawMessage{}
	for _, c := range claims {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		maps.Copy(merged, m)
	}
	return json.Marshal(merged)
}

func (s *Set) signer(typ string) (jose.Signer, error) {
	if err := s.promoteDue(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	sg, ok := s.signers[typ]
	active := s.active
	s.mu.RUnlock()
	if ok {
		return sg, nil
	}
	if active.Key == nil {
		return nil, errors.New("keys: no active signing key")
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: active}, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.active.KeyID == active.KeyID {
		s.signers[typ] = sg
	}
	s.mu.Unlock()
	return sg, nil
}

// JWKS returns the public key set.
func (s *Set) JWKS() jose.JSONWebKeySet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), s.public...)}
}

// ServeHTTP serves the public JWKS. A short max-age keeps verifiers from
// hammering it while letting a rotation show up within a minute.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(s.JWKS())
	if err != nil {
		http.Error(w, "cannot encode JWKS", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(body)
}

// ErrUnknownKey is returned by Key for a kid the set does not publish.
var ErrUnknownKey = errors.New("keys: unknown kid")

// Key returns the public key with the given kid, so a party can verify what it
// signed itself (the IdP checking its own ID tokens) through the same verifier
// it would use for anyone else's.
func (s *Set) Key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.public {
		if s.public[i].KeyID == kid {
			k := s.public[i]
			return &k, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// KeyInfo describes one stored key: public facts only.
type KeyInfo struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	Active    bool       `json:"active"` // signs new tokens
	// Pending: published, starts signing at CreatedAt (RotateAfter).
	Pending bool `json:"pending,omitempty"`
}

// List describes every stored key (all of them are published), newest first.
func (s *Set) List(ctx context.Context) ([]KeyInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kid, alg, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, rowid DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	active := s.ActiveKeyID()
	out := []KeyInfo{}
	for rows.Next() {
		var k KeyInfo
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.KID, &k.Alg, &created, &retired); err != nil {
			return nil, err
		}
		k.CreatedAt = time.Unix(created, 0).UTC()
		if retired.Valid {
			t := time.Unix(retired.Int64, 0).UTC()
			k.RetiredAt = &t
		}
		k.Active = k.KID == active
		k.Pending = !retired.Valid && created > time.Now().Unix()
		out = append(out, k)
	}
	return out, rows.Err()
}

// Prune deletes keys retired before cutoff and stops publishing them. Call it
// with cutoff = now minus the longest lifetime of anything the keys signed,
// so a token stays verifiable until it expires. The active key is never pruned.
func (s *Set) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ? AND kid <> ?`, cutoff.Unix(), s.ActiveKeyID())
	if err != nil {
		return 0, fmt.Errorf("keys: prune: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		return n, s.load(ctx)
	}
	return 0, nil
}
