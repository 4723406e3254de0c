// Package jwtforge makes JWTs the way an attacker or a buggy IdP would: any
// header, any claims, signed with any key. The scenario runner and the
// conformance checkers use it to show a verifier what it must refuse.
package jwtforge

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"
	_ "modernc.org/sqlite" // reading a party's key store
)

// Sign makes a compact JWS with exactly the given header fields ("alg" is
// taken from alg) over payload.
func Sign(alg jose.SignatureAlgorithm, key any, header map[string]any, payload []byte) (string, error) {
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
	for k, v := range header {
		if k != "alg" {
			opts.ExtraHeaders[jose.HeaderKey(k)] = v
		}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Unsigned makes an alg "none" token with an empty signature.
func Unsigned(header map[string]any, payload []byte) string {
	h := map[string]any{}
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = "none"
	hb, _ := json.Marshal(h)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// ActiveKey reads a party's active signing key (private) from its database
// file dir/db. Only a sandbox on this machine allows it; it lets a test show
// the checks that come after the signature with tokens the party never made.
func ActiveKey(ctx context.Context, dir, db string) (*jose.JSONWebKey, error) {
	if dir == "" {
		return nil, fmt.Errorf("signing with a party's own key needs its data directory")
	}
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, db)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var raw string
	if err := conn.QueryRowContext(ctx, `SELECT jwk FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1`).Scan(&raw); err != nil {
		return nil, fmt.Errorf("reading the signing key in %s: %w", filepath.Join(dir, db), err)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(raw)); err != nil {
		return nil, err
	}
	return &k, nil
}
