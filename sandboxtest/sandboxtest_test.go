package sandboxtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxtest"
)

// The admin client speaks each party's admin API with its own token, and
// reports refusals as the API's OAuth error.
func TestAdmin(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	ctx := context.Background()

	for _, p := range []sandboxclient.Party{sandboxclient.IdP, sandboxclient.Todo0, sandboxclient.MCP} {
		f, err := sb.Admin.Faults(ctx, p)
		if err != nil {
			t.Fatalf("%s faults: %v", p, err)
		}
		if len(f.Known) == 0 || len(f.Active) != 0 {
			t.Fatalf("%s faults = %+v, want some known, none active", p, f)
		}
		if err := sb.Admin.SetFaults(ctx, p, f.Known[0].Name); err != nil {
			t.Fatalf("%s set fault: %v", p, err)
		}
		if f, _ := sb.Admin.Faults(ctx, p); !slices.Equal(f.Active, []string{f.Known[0].Name}) {
			t.Fatalf("%s active = %v", p, f.Active)
		}
		// An unknown name is refused and changes nothing.
		var e *sandboxclient.Error
		if err := sb.Admin.SetFaults(ctx, p, "no.such_fault"); !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "invalid_request" {
			t.Fatalf("%s unknown fault: %v, want 400 invalid_request", p, err)
		}
		if f, _ := sb.Admin.Faults(ctx, p); len(f.Active) != 1 {
			t.Fatalf("%s active after a refused change = %v", p, f.Active)
		}
		if err := sb.Admin.SetFaults(ctx, p); err != nil {
			t.Fatal(err)
		}
		if f, _ := sb.Admin.Faults(ctx, p); len(f.Active) != 0 {
			t.Fatalf("%s active after all off = %v", p, f.Active)
		}
	}
	if err := sb.Admin.SetFaults(ctx, sandboxclient.Agent0, "x"); err == nil {
		t.Fatal("Agent0 has no fault switches, but SetFaults succeeded")
	}

	// A wrong admin token is refused with the API's 401.
	wrong := *sb.Admin
	wrong.Tokens.Todo0 = "not-the-token"
	var e *sandboxclient.Error
	if _, err := wrong.Faults(ctx, sandboxclient.Todo0); !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v, want 401", err)
	}

	// Deactivating alice at the IdP refuses her sign-in; reactivating restores it.
	authURL := sb.URLs.IdP + "/oauth2/authorize?response_type=code&client_id=agent0&scope=openid&state=s1&nonce=n1" +
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri=" + sb.URLs.Agent0 + "/callback"
	if err := sb.Admin.DeactivateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if q, err := sandboxclient.AuthorizationCode(ctx, authURL, sb.URLs.Agent0+"/callback", "alice", "alice-demo"); err == nil && q.Get("code") != "" {
		t.Fatalf("deactivated alice got a code: %v", q)
	}
	if err := sb.Admin.ReactivateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if q, err := sandboxclient.AuthorizationCode(ctx, authURL, sb.URLs.Agent0+"/callback", "alice", "alice-demo"); err != nil || q.Get("code") == "" {
		t.Fatalf("reactivated alice: %v %v", q, err)
	}
	if err := sb.Admin.DeactivateUser(ctx, "nobody"); err == nil {
		t.Fatal("deactivating an unknown user succeeded")
	}
}

// Options reach the parties: the signing algorithm shows in the IdP's JWKS.
func TestOptionsSigningAlg(t *testing.T) {
	sb := sandboxtest.Start(t, &sandboxtest.Options{SigningAlg: "ES256"})
	var jwks struct {
		Keys []struct {
			Alg, Kty string
		} `json:"keys"`
	}
	var out any = &jwks
	if err := getJSON(sb.URLs.IdP+"/oauth2/jwks", out); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) == 0 || jwks.Keys[0].Alg != "ES256" || jwks.Keys[0].Kty != "EC" {
		t.Fatalf("IdP JWKS = %+v, want an ES256 key", jwks.Keys)
	}
}

// Close and a new sandbox on the same DataDir is a restart: the IdP keeps its
// signing key.
func TestRestartOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	kid := func() string {
		sb := sandboxtest.Start(t, &sandboxtest.Options{DataDir: dir})
		defer sb.Close()
		var jwks struct {
			Keys []struct{ Kid string } `json:"keys"`
		}
		if err := getJSON(sb.URLs.IdP+"/oauth2/jwks", &jwks); err != nil || len(jwks.Keys) == 0 {
			t.Fatalf("jwks: %v %+v", err, jwks)
		}
		return jwks.Keys[0].Kid
	}
	if a, b := kid(), kid(); a != b {
		t.Fatalf("kid before restart %q, after %q", a, b)
	}
}

// Fixed ports are where the parties listen and what their URLs say, and a
// restart of the same data directory on other ports moves the IdP's issuer
// with it.
func TestFixedPorts(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		ports := freePorts(t, 4)
		sb := sandboxtest.Start(t, &sandboxtest.Options{DataDir: dir,
			IdPPort: ports[0], Agent0Port: ports[1], Todo0Port: ports[2], MCPPort: ports[3]})
		want := []string{sb.URLs.IdP, sb.URLs.Agent0, sb.URLs.Todo0, sb.URLs.MCP}
		for i, u := range want {
			if !strings.HasSuffix(u, ":"+strconv.Itoa(ports[i])) && !strings.Contains(u, ":"+strconv.Itoa(ports[i])+"/") {
				t.Errorf("round %d: URL %s does not use the fixed port %d", round, u, ports[i])
			}
		}
		var meta struct {
			Issuer string `json:"issuer"`
		}
		if err := getJSON(fmt.Sprintf("http://localhost:%d/.well-known/openid-configuration", ports[0]), &meta); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if meta.Issuer != sb.URLs.IdP {
			t.Errorf("round %d: issuer %q, want %q", round, meta.Issuer, sb.URLs.IdP)
		}
		if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// freePorts finds n loopback ports nobody listens on now.
func freePorts(t *testing.T, n int) []int {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// BenchmarkStart is the cost of a fresh sandbox per test: four parties, four
// SQLite databases seeded, keys generated.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		sb := sandboxtest.Start(b, nil)
		if err := sb.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
