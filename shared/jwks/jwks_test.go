package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
)

// checklist 3.3: kid resolves through the issuer's JWKS, cached, refreshed on
// an unknown kid at most once per interval; the URL comes from the issuer's
// metadata, whose issuer must match.
func TestRemote(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	published := []jose.JSONWebKey{{Key: k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}
	var fetches atomic.Int32
	var srv *httptest.Server
	issuer := ""
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": srv.URL + "/jwks"})
		case "/jwks":
			fetches.Add(1)
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: published})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuer = srv.URL
	r := &jwks.Remote{Issuer: issuer, MetadataURL: srv.URL + "/.well-known/openid-configuration", MinRefresh: 200 * time.Millisecond}
	ctx := context.Background()
	if _, err := r.Key(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Key(ctx, "k1"); err != nil || fetches.Load() != 1 {
		t.Fatalf("cached key refetched: %d fetches, %v", fetches.Load(), err)
	}
	// A flood of made-up kids costs no fetch within MinRefresh.
	for range 50 {
		if _, err := r.Key(ctx, "made-up"); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches after a flood of unknown kids, want 1", fetches.Load())
	}
	// After a rotation at the issuer, the new kid is found once MinRefresh passed.
	published = append(published, jose.JSONWebKey{Key: k2.Public(), KeyID: "k2", Algorithm: "ES256", Use: "sig"})
	time.Sleep(250 * time.Millisecond)
	if _, err := r.Key(ctx, "k2"); err != nil || fetches.Load() != 2 {
		t.Fatalf("rotated key: %v after %d fetches", err, fetches.Load())
	}
	// Metadata naming another issuer is refused.
	bad := &jwks.Remote{Issuer: "https://someone-else.example", MetadataURL: srv.URL + "/.well-known/openid-configuration"}
	if _, err := bad.Key(ctx, "k1"); err == nil {
		t.Fatal("accepted keys from metadata of another issuer")
	}
}
