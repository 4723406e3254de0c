package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memReplay) Use(_ context.Context, ns, iss, jti string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ns + "|" + iss + "|" + jti
	if m.seen[k] {
		return errors.New("replayed")
	}
	m.seen[k] = true
	return nil
}

func newKey(t *testing.T) (*Key, *ecdsa.PrivateKey) {
	t.Helper()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(pk, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k, pk
}

// craft signs arbitrary header fields and claims, for malformed proofs.
func craft(t *testing.T, pk *ecdsa.PrivateKey, typ string, embed bool, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: embed}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: pk}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// RFC 9449 4.3: every check of a proof, one row each.
func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key, pk := newKey(t)
	const htu = "https://as.example/oauth2/token"
	good := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"jti": "j-" + base64.RawURLEncoding.EncodeToString([]byte(t.Name())), "htm": "POST", "htu": htu, "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	fresh, _ := key.Proof("POST", htu+"?x=1#f", "", now)
	withATH, _ := key.Proof("GET", "https://rs.example/mcp", "tok-123", now)
	for _, tc := range []struct {
		name   string
		values []string
		req    Request
		errHas string // "" = valid
	}{
		{name: "a good proof (query and fragment ignored)", values: []string{fresh}, req: Request{Method: "POST", URL: htu}},
		{name: "host case ignored", values: []string{fresh}, req: Request{Method: "POST", URL: "https://AS.example/oauth2/token"}},
		{name: "with ath", values: []string{withATH}, req: Request{Method: "GET", URL: "https://rs.example/mcp", AccessToken: "tok-123"}},
		{name: "no header", values: nil, req: Request{Method: "POST", URL: htu}, errHas: "exactly one DPoP header"},
		{name: "two headers", values: []string{fresh, fresh}, req: Request{Method: "POST", URL: htu}, errHas: "exactly one DPoP header"},
		{name: "not a JWS", values: []string{"garbage"}, req: Request{Method: "POST", URL: htu}, errHas: "not a JWS"},
		{name: "wrong typ", values: []string{craft(t, pk, "JWT", true, good(nil))}, req: Request{Method: "POST", URL: htu}, errHas: "typ"},
		{name: "no jwk", values: []string{craft(t, pk, Typ, false, good(nil))}, req: Request{Method: "POST", URL: htu}, errHas: "no jwk"},
		{name: "wrong htm", values: []string{fresh}, req: Request{Method: "GET", URL: htu}, errHas: "htm"},
		{name: "wrong htu", values: []string{fresh}, req: Request{Method: "POST", URL: "https://as.example/other"}, errHas: "htu"},
		{name: "no jti", values: []string{craft(t, pk, Typ, true, good(func(c map[string]any) { delete(c, "jti") }))}, req: Request{Method: "POST", URL: htu}, errHas: "jti"},
		{name: "no iat", values: []string{craft(t, pk, Typ, true, good(func(c map[string]any) { delete(c, "iat") }))}, req: Request{Method: "POST", URL: htu}, errHas: "iat"},
		{name: "iat too old", values: []string{craft(t, pk, Typ, true, good(func(c map[string]any) { c["iat"] = now.Add(-10 * time.Minute).Unix() }))}, req: Request{Method: "POST", URL: htu}, errHas: "older"},
		{name: "iat in the future", values: []string{craft(t, pk, Typ, true, good(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }))}, req: Request{Method: "POST", URL: htu}, errHas: "future"},
		{name: "ath missing with a token", values: []string{fresh}, req: Request{Method: "POST", URL: htu, AccessToken: "tok-123"}, errHas: "ath is missing"},
		{name: "ath of another token", values: []string{withATH}, req: Request{Method: "GET", URL: "https://rs.example/mcp", AccessToken: "tok-456"}, errHas: "ath does not match"},
		{name: "signature by another key", values: []string{tamper(t, fresh)}, req: Request{Method: "POST", URL: htu}, errHas: "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Verifier{Now: func() time.Time { return now }}
			p, err := v.Verify(context.Background(), tc.values, tc.req)
			if tc.errHas == "" {
				if err != nil || p.JKT != key.JKT() {
					t.Fatalf("err = %v, jkt %v want %s", err, p, key.JKT())
				}
				return
			}
			if !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want %q", err, tc.errHas)
			}
		})
	}
	t.Run("a replayed jti", func(t *testing.T) {
		v := Verifier{Now: func() time.Time { return now }, Replay: &memReplay{seen: map[string]bool{}}}
		if _, err := v.Verify(context.Background(), []string{fresh}, Request{Method: "POST", URL: htu}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), []string{fresh}, Request{Method: "POST", URL: htu}); !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("replay accepted: %v", err)
		}
	})
}

// tamper swaps the embedded jwk for another key's, keeping the signature.
func tamper(t *testing.T, proof string) string {
	t.Helper()
	other, _ := newKey(t)
	p2, _ := other.Proof("POST", "https://as.example/oauth2/token", "", time.Unix(1_800_000_000, 0))
	h2 := strings.SplitN(p2, ".", 2)[0]
	parts := strings.SplitN(proof, ".", 3)
	return h2 + "." + parts[1] + "." + parts[2]
}

// RFC 7638: the thumbprint is stable and differs between keys.
func TestThumbprint(t *testing.T) {
	a, _ := newKey(t)
	b, _ := newKey(t)
	if a.JKT() == "" || a.JKT() == b.JKT() || len(a.JKT()) != 43 {
		t.Fatalf("jkt %q %q", a.JKT(), b.JKT())
	}
}

// The in-memory replay cache refuses a seen jti until it expires and stays bounded.
func TestMemoryReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := &MemoryReplay{Max: 2, Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := m.Use(ctx, "dpop", "k", "a", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.Use(ctx, "dpop", "k", "a", now.Add(time.Minute)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	_ = m.Use(ctx, "dpop", "k", "b", now.Add(time.Minute))
	if err := m.Use(ctx, "dpop", "k", "c", now.Add(time.Minute)); !errors.Is(err, ErrFull) {
		t.Fatalf("full cache: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := m.Use(ctx, "dpop", "k", "c", now.Add(time.Minute)); err != nil {
		t.Fatalf("after expiry the cache has room again: %v", err)
	}
}
