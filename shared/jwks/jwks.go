// Package jwks fetches and caches another party's published JSON Web Key Set.
//
// The URL comes from configuration or from the issuer's own metadata, never
// from a header or claim of the token being verified (no jku/x5u following).
package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey means the kid is not in the key set even after a refresh.
var ErrUnknownKey = errors.New("jwks: unknown kid")

// Remote is a cached remote key set.
type Remote struct {
	// Issuer and MetadataURL locate jwks_uri through RFC 8414 / OIDC discovery
	// when URL is empty; the metadata's issuer must equal Issuer exactly.
	Issuer      string
	MetadataURL string
	// URL is the jwks_uri; when set, no discovery happens.
	URL    string
	Client *http.Client
	// TTL is how long a fetched set is used before it is fetched again (default 5m).
	TTL time.Duration
	// MinRefresh bounds how often an unknown kid may trigger a refetch (default 10s),
	// so a flood of tokens with made-up kids cannot turn into a flood of fetches.
	MinRefresh time.Duration

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetched time.Time
}

// Key returns the key with the given kid, refreshing the set when the kid is
// unknown and the last fetch is older than MinRefresh.
func (r *Remote) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ttl, minRefresh := r.TTL, r.MinRefresh
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if minRefresh == 0 {
		minRefresh = 10 * time.Second
	}
	if r.fetched.IsZero() || time.Since(r.fetched) > ttl {
		if err := r.refresh(ctx); err != nil {
			return nil, err
		}
	}
	if k := find(r.set, kid); k != nil {
		return k, nil
	}
	if time.Since(r.fetched) < minRefresh {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if err := r.refresh(ctx); err != nil {
		return nil, err
	}
	if k := find(r.set, kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

func find(set jose.JSONWebKeySet, kid string) *jose.JSONWebKey {
	if kid == "" {
		return nil
	}
	for i := range set.Keys {
		if set.Keys[i].KeyID == kid && set.Keys[i].Use != "enc" {
			k := set.Keys[i]
			return &k
		}
	}
	return nil
}

func (r *Remote) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (r *Remote) refresh(ctx context.Context) error {
	u := r.URL
	if u == "" {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := GetJSON(ctx, r.client(), r.MetadataURL, &meta); err != nil {
			return fmt.Errorf("jwks: discovery: %w", err)
		}
		if meta.Issuer != r.Issuer {
			return fmt.Errorf("jwks: metadata at %s names issuer %q, want %q", r.MetadataURL, meta.Issuer, r.Issuer)
		}
		if meta.JWKSURI == "" {
			return fmt.Errorf("jwks: metadata at %s has no jwks_uri", r.MetadataURL)
		}
		u = meta.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := GetJSON(ctx, r.client(), u, &set); err != nil {
		return fmt.Errorf("jwks: fetch: %w", err)
	}
	r.set, r.fetched = set, time.Now()
	return nil
}

// GetJSON fetches url and decodes a JSON body of at most 1 MiB into v.
func GetJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Static is a fixed key set (a client's registered JWKS, for instance).
type Static jose.JSONWebKeySet

// Key returns the key with the given kid.
func (s Static) Key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	if k := find(jose.JSONWebKeySet(s), kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}
