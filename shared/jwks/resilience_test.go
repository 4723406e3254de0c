package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
)

// issuerJWKS is a JWKS endpoint that can fail or hang on demand.
type issuerJWKS struct {
	*httptest.Server
	fetches atomic.Int32
	failing atomic.Bool
	hold    chan struct{} // when not nil, fetches wait for it to close
	entered chan struct{}
	mu      sync.Mutex
}

func newIssuerJWKS(t *testing.T) *issuerJWKS {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	s := &issuerJWKS{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		hold, entered := s.hold, s.entered
		s.mu.Unlock()
		if hold != nil {
			entered <- struct{}{}
			<-hold
		}
		if s.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

// checklist 3.3 (JWKS cache under IdP failure): a failed fetch counts toward
// MinRefresh, so an unreachable issuer plus a flood of unknown kids costs at
// most one fetch per interval.
func TestRemoteFailedFetchCountsTowardMinRefresh(t *testing.T) {
	s := newIssuerJWKS(t)
	s.failing.Store(true)
	r := &jwks.Remote{URL: s.URL, MinRefresh: time.Hour}
	for range 50 {
		if _, err := r.Key(context.Background(), "k1"); err == nil {
			t.Fatal("key from a failing issuer")
		}
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches from a failing issuer within MinRefresh, want 1", n)
	}
}

// checklist 3.3: after the TTL, a failed refetch keeps the last good set
// serving: cached kids still verify while the issuer is down.
func TestRemoteServesLastGoodSetOnError(t *testing.T) {
	s := newIssuerJWKS(t)
	r := &jwks.Remote{URL: s.URL, TTL: 20 * time.Millisecond, MinRefresh: 20 * time.Millisecond}
	if _, err := r.Key(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	s.failing.Store(true)
	time.Sleep(50 * time.Millisecond) // past the TTL
	for range 5 {
		if _, err := r.Key(context.Background(), "k1"); err != nil {
			t.Fatalf("cached kid refused while the issuer is down: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// checklist 3.3: the fetch runs outside the lock, one at a time: while a
// refetch for an unknown kid hangs, a cached kid answers at once, and ten
// more unknown kids share that one fetch.
func TestRemoteFetchesOutsideTheLockOnce(t *testing.T) {
	s := newIssuerJWKS(t)
	r := &jwks.Remote{URL: s.URL, MinRefresh: time.Second}
	if _, err := r.Key(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // an unknown kid may refetch now, and then not for another second
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold, s.entered = hold, make(chan struct{}, 1)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for range 11 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = r.Key(context.Background(), "unknown")
		}()
	}
	<-s.entered // the refetch is hanging at the issuer
	got := make(chan error, 1)
	go func() {
		_, err := r.Key(context.Background(), "k1")
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(hold)
		t.Fatal("a cached kid waited behind a hanging fetch")
	}
	close(hold)
	wg.Wait()
	if n := s.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (first + one shared refetch)", n)
	}
}
