package keys_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

func open(t *testing.T, path string, alg jose.SignatureAlgorithm) (*keys.Set, func()) {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), path, []string{keys.Migration})
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.Open(context.Background(), db, alg)
	if err != nil {
		t.Fatal(err)
	}
	return s, func() { db.Close() }
}

// Keys persist across restarts, and rotation keeps old keys published.
func TestPersistAndRotate(t *testing.T) {
	for _, alg := range keys.Supported {
		t.Run(string(alg), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.db")
			s, closeDB := open(t, path, alg)
			now := time.Now()
			claims := jwt.Claims{Issuer: "iss", Subject: "u", Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
			before, err := s.Sign("JWT", claims)
			if err != nil {
				t.Fatal(err)
			}
			kid := s.ActiveKeyID()
			closeDB()

			s, closeDB = open(t, path, alg)
			defer closeDB()
			if s.ActiveKeyID() != kid {
				t.Fatalf("key changed across reopen: %s -> %s", kid, s.ActiveKeyID())
			}
			newKid, err := s.Rotate(context.Background())
			if err != nil || newKid == kid || s.ActiveKeyID() != newKid {
				t.Fatalf("Rotate = %s, %v (active %s)", newKid, err, s.ActiveKeyID())
			}
			after, _ := s.Sign("JWT", claims)
			v := jwtverify.Verifier{Typ: "JWT", Issuers: map[string]jwtverify.KeySource{"iss": s}}
			for _, tok := range []string{before, after} {
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Fatalf("token no longer verifies after rotation: %v", err)
				}
			}
			// The JWKS publishes both public keys and no private material.
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/jwks", nil))
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 2 {
				t.Fatalf("JWKS = %s (%v)", w.Body, err)
			}
			for _, k := range set.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if _, ok := k[private]; ok {
						t.Fatalf("JWKS leaks private member %q", private)
					}
				}
			}
		})
	}
}

func TestUnsupportedAlgorithm(t *testing.T) {
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), []string{keys.Migration})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := keys.Open(context.Background(), db, jose.HS256); err == nil {
		t.Fatal("HS256 signing keys must be refused")
	}
}

// RotateAfter publishes the next key before it signs, so a verifier that
// refetches the JWKS on an unknown kid only every so often never meets a kid
// it cannot resolve.
func TestRotateAfterPublishesFirst(t *testing.T) {
	s, closeDB := open(t, filepath.Join(t.TempDir(), "k.db"), jose.ES256)
	defer closeDB()
	ctx := context.Background()
	oldKid := s.ActiveKeyID()
	claims := jwt.Claims{Issuer: "iss", Subject: "u", Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	kidOf := func() string {
		tok, err := s.Sign("JWT", claims)
		if err != nil {
			t.Fatal(err)
		}
		p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return p.Headers[0].KeyID
	}
	newKid, err := s.RotateAfter(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if pk, at := s.PendingKeyID(); pk != newKid || at.IsZero() {
		t.Fatalf("PendingKeyID = %s %v, want %s", pk, at, newKid)
	}
	// Published at once...
	if _, err := s.Key(ctx, newKid); err != nil {
		t.Fatalf("the next key is not published yet: %v", err)
	}
	// ...but the old key still signs.
	if got := kidOf(); got != oldKid {
		t.Fatalf("signed with %s before the switch, want the old %s", got, oldKid)
	}
	list, _ := s.List(ctx)
	pending := 0
	for _, k := range list {
		if k.Pending {
			pending++
		}
	}
	if pending != 1 {
		t.Fatalf("List shows %d pending keys, want 1: %+v", pending, list)
	}
	time.Sleep(2100 * time.Millisecond)
	if got := kidOf(); got != newKid {
		t.Fatalf("signed with %s after the switch, want %s", got, newKid)
	}
	if pk, _ := s.PendingKeyID(); pk != "" || s.ActiveKeyID() != newKid {
		t.Fatalf("after the switch: pending %q active %q", pk, s.ActiveKeyID())
	}
	// The old key is retired (and so prunable later) but still published.
	if _, err := s.Key(ctx, oldKid); err != nil {
		t.Fatal("the old key vanished at the switch")
	}
	if n, err := s.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("Prune with an old cutoff removed %d keys (%v)", n, err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("Prune after retention removed %d keys (%v), want the old one", n, err)
	}
}
