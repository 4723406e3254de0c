package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// DNS rebinding, at every party: a request whose Host is another name for
// the party's address is refused before any handler runs, including the
// IdP admin API, Todo0's service API and the fault switchboards, even with
// valid credentials; the public host and the loopback forms on the port work.
func TestEveryPartyRefusesReboundHost(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	type target struct {
		base, path, auth string
		basic            [2]string
	}
	for name, tg := range map[string]target{
		"IdP admin API":        {base: sb.IdPURL, path: "/admin/api/users", auth: "Bearer " + demo.IdPAdminToken},
		"Todo0 service API":    {base: sb.Todo0URL, path: "/api/v1/users/00u_alice/todos", basic: [2]string{demo.MCPServiceClientID, demo.MCPServiceClientSecret}},
		"Todo0 faults":         {base: sb.Todo0URL, path: "/admin/api/faults", auth: "Bearer " + demo.Todo0AdminToken},
		"Todo0 MCP faults":     {base: sb.MCPURL, path: "/admin/api/faults", auth: "Bearer " + demo.MCPAdminToken},
		"Agent0 home":          {base: sb.Agent0URL, path: "/"},
		"IdP discovery (open)": {base: sb.IdPURL, path: "/.well-known/openid-configuration"},
	} {
		u, _ := url.Parse(tg.base)
		for host, want := range map[string]int{
			"rebind.example:" + u.Port(): http.StatusBadRequest,
			u.Host:                       http.StatusOK,
			"127.0.0.1:" + u.Port():      http.StatusOK,
			"[::1]:" + u.Port():          http.StatusOK,
		} {
			req, _ := http.NewRequestWithContext(c, http.MethodGet, tg.base+tg.path, nil)
			req.Host = host
			if tg.auth != "" {
				req.Header.Set("Authorization", tg.auth)
			}
			if tg.basic[0] != "" {
				req.SetBasicAuth(tg.basic[0], tg.basic[1])
			}
			if strings.HasPrefix(host, "rebind") {
				req.Header.Set("Origin", "http://"+host)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Past the Host check the handler answers (the service API says 404 for a
			// user Todo0 has not met yet); only the check answers 400 here.
			if (resp.StatusCode == http.StatusBadRequest) != (want == http.StatusBadRequest) {
				t.Errorf("%s with Host %s: %d, want %s", name, host, resp.StatusCode, map[bool]string{true: "400", false: "the handler's answer"}[want == 400])
			}
		}
	}
}
