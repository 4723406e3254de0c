package keys_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Sign marshals claims itself (once) instead of through go-jose's builder;
// the payload must still say what the builder would have said: the same
// claims and values for a struct, a map, a struct merged with a map (the
// later value of a name wins), and no claims for a nil map.
func TestSignPayloadMatchesBuilder(t *testing.T) {
	s, closeDB := open(t, filepath.Join(t.TempDir(), "k.db"), jose.ES256)
	defer closeDB()
	type withExtras struct {
		jwt.Claims
		ClientID string            `json:"client_id"`
		Scope    string            `json:"scope,omitempty"`
		AMR      []string          `json:"amr,omitempty"`
		Cnf      map[string]string `json:"cnf,omitempty"`
		Act      map[string]any    `json:"act,omitempty"`
	}
	now := time.Unix(1_800_000_000, 0)
	st := withExtras{
		Claims:   jwt.Claims{Issuer: "https://idp.example", Subject: "u", Audience: jwt.Audience{"https://as.example"}, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j<&>"},
		ClientID: "c", AMR: []string{"pwd"}, Cnf: map[string]string{"jkt": "x"}, Act: map[string]any{"sub": "agent", "n": 1.5},
	}
	extra := map[string]any{"aud": []string{"https://as.example"}, "email": "a@b", "n": 1234567890123.25}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, claims := range map[string][]any{
		"struct":         {st},
		"pointer":        {&st},
		"map":            {extra},
		"struct and map": {st, extra},
		"nil map":        {map[string]any(nil)},
		"claims only":    {jwt.Claims{Issuer: "i", Audience: jwt.Audience{"a", "b"}}},
	} {
		t.Run(name, func(t *testing.T) {
			b := jwt.Signed(sg)
			for _, c := range claims {
				b = b.Claims(c)
			}
			want, err := b.Serialize()
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Sign("JWT", claims...)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := payload(t, got), payload(t, want); !reflect.DeepEqual(g, w) {
				t.Fatalf("payload %#v, builder's %#v", g, w)
			}
		})
	}
	for _, bad := range []any{"a string", 42, []string{"x"}} {
		if _, err := s.Sign("JWT", bad); !errors.Is(err, jwt.ErrInvalidClaims) {
			t.Errorf("Sign(%#v) = %v, want ErrInvalidClaims", bad, err)
		}
	}
}

func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any // numbers as float64: the same value may be spelt 1.5e+12 or 1500000000000
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	return m
}
