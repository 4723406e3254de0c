package sandboxclient

import (
	"context"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// The IdP lists users a page at a time: a user past the first page is still
// found by username.
func TestDeactivateUserOnALaterPage(t *testing.T) {
	sb, err := sandbox.Start(context.Background(), sandbox.Options{DataDir: t.TempDir(), IdPPort: 0, Agent0Port: 0, Todo0Port: 0, MCPPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	defer func(n int) { userPage = n }(userPage)
	userPage = 2 // admin, alice | bob, carol

	a := NewAdmin(Config{URLs: NewURLs(sb.IdPURL, sb.Agent0URL, sb.Todo0URL, sb.MCPURL), Credentials: DemoCredentials()})
	ctx := context.Background()
	if err := a.ReactivateUser(ctx, "carol"); err != nil {
		t.Fatalf("carol, on the second page: %v", err)
	}
	var carol struct {
		Active bool `json:"active"`
	}
	if err := a.IdP(ctx, "GET", "/users/00u_carol", nil, &carol); err != nil || !carol.Active {
		t.Fatalf("carol after ReactivateUser: %+v %v", carol, err)
	}
	if err := a.DeactivateUser(ctx, "zed"); err == nil {
		t.Fatal("an unknown user past the last page was found")
	}
}
