package sandboxcontainers_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxcontainers"
)

// In a test: the sandbox in containers, removed when the test ends. Run with
// TESTCONTAINERS_RYUK_DISABLED=true where the reaper image cannot be pulled.
func TestExampleStart(t *testing.T) {
	sb := sandboxcontainers.Start(t, nil)
	ctx := context.Background()

	// Your client under test goes here, configured from sb.URLs and
	// sb.Credentials. Then see how it copes when Todo0's authorization
	// server goes away for a moment:
	if err := sb.Stop(ctx, sandboxclient.Todo0); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(sb.URLs.Todo0 + "/.well-known/oauth-authorization-server"); err == nil {
		t.Fatal("Todo0 answers while stopped")
	}
	if err := sb.Start(ctx, sandboxclient.Todo0); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(sb.URLs.Todo0 + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Outside a test (a TestMain that shares one sandbox among tests, say): New
// and Terminate. Options pick the image, ports, token lifetimes, the IdP's
// signing algorithm and any party's environment.
func ExampleNew() {
	ctx := context.Background()
	sb, err := sandboxcontainers.New(ctx, &sandboxcontainers.Options{
		Image:      "xaa-sandbox:latest",
		IdPPort:    17001, // the others on free ports
		SigningAlg: "ES256",
		Env: map[sandboxclient.Party]map[string]string{
			sandboxclient.IdP: {"XAA_LOG_LEVEL": "debug"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Terminate(ctx)
	fmt.Println(sb.URLs.IdP, sb.Credentials.Agent0AtIdP.ID)
}
