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

	mu        sync.Mutex
	set       jose.JSONWebKeySet // the last good set
	fetched   time.Time          // when set was fetched
	attempted time.Time          // the last fetch, good or failed
	lastErr   error              // the last fetch's failure, nil after a good one
	inflight  chan struct{}      // closed when the running fetch ends; nil when none
}

// Key returns the key with the given kid. The set is refetched when it is
// older than TTL, or when the kid is unknown; either way at most once per
// MinRefresh, failed fetches included, so an unreachable issuer or a flood of
// made-up kids costs at most one request per interval. One fetch runs at a
// time, outside the lock: callers whose kid is cached never wait for it.
// When a fetch fails, the last good set keeps serving.
func (r *Remote) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	ttl, minRefresh := r.TTL, r.MinRefresh
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if minRefresh == 0 {
		minRefresh = 10 * time.Second
	}
	r.mu.Lock()
	k := find(r.set, kid)
	stale := r.fetched.IsZero() || time.Since(r.fetched) > ttl
	mayFetch := r.attempted.IsZero() || time.Since(r.attempted) >= minRefresh
	switch {
	case k != nil && (!stale || !mayFetch):
		r.mu.Unlock()
		return k, nil
	case k != nil && r.inflight != nil:
		// Stale but a refresh is already running: the cached key serves.
		r.mu.Unlock()
		return k, nil
	case k != nil:
		// Stale: refresh in the background, serve the cached key now.
		r.startFetch(ctx)
		r.mu.Unlock()
		return k, nil
	}
	if r.inflight == nil && mayFetch {
		r.startFetch(ctx)
	}
	wait := r.inflight
	r.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := find(r.set, kid); k != nil {
		return k, nil
	}
	if r.lastErr != nil {
		return nil, r.lastErr
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// startFetch starts the one refresh; r.mu is held.
func (r *Remote) startFetch(ctx context.Context) {
	done := make(chan struct{})
	r.inflight = done
	// The fetch serves every waiter, so it does not end with the caller
	// that happened to start it; a timeout of its own bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	go func() {
		defer cancel()
		set, err := r.fetch(ctx)
		r.mu.Lock()
		r.attempted, r.lastErr, r.inflight = time.Now(), err, nil
		if err == nil {
			r.set, r.fetched = set, r.attempted
		}
		r.mu.Unlock()
		close(done)
	}()
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

func (r *Remote) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	u := r.URL
	if u == "" {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := GetJSON(ctx, r.client(), r.MetadataURL, &meta); err != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("jwks: discovery: %w", err)
		}
		if meta.Issuer != r.Issuer {
			return jose.JSONWebKeySet{}, fmt.Errorf("jwks: metadata at %s names issuer %q, want %q", r.MetadataURL, meta.Issuer, r.Issuer)
		}
		if meta.JWKSURI == "" {
			return jose.JSONWebKeySet{}, fmt.Errorf("jwks: metadata at %s has no jwks_uri", r.MetadataURL)
		}
		u = meta.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := GetJSON(ctx, r.client(), u, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks: fetch: %w", err)
	}
	return set, nil
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
