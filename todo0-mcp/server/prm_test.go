package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

type prmDoc struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported"`
	BearerMethods        []string `json:"bearer_methods_supported"`
}

func (e *mcpEnv) getPRM(path string) (int, prmDoc) {
	e.t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var d prmDoc
	if resp.StatusCode == http.StatusOK {
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			e.t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			e.t.Fatal(err)
		}
	}
	return resp.StatusCode, d
}

var prmPaths = []string{"/.well-known/oauth-protected-resource/mcp"}

// RFC 9728 3.3: a root metadata document would describe the resource
// without a path, which this server does not serve; the /mcp resource's
// document is only at its path-suffixed location.
func TestPRMNoRootDocument(t *testing.T) {
	e := newMCPEnv(t)
	resp, err := http.Get(e.url + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("root metadata document: %d, want 404", resp.StatusCode)
	}
}

// TestProtectedResourceMetadata: checklist 4 / RFC 9728.
func TestProtectedResourceMetadata(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	for _, p := range prmPaths {
		status, d := e.getPRM(p)
		// RFC 9728 3.3: resource is exactly the identifier clients use
		if status != 200 || d.Resource != e.url+demo.MCPPath {
			t.Errorf("%s: %d resource %q", p, status, d.Resource)
		}
		// checklist 4: the Todo0 AS issuer, the scopes, header only
		if !slices.Equal(d.AuthorizationServers, []string{e.as.URL}) || !slices.Equal(d.ScopesSupported, demo.Todo0Scopes) || !slices.Equal(d.BearerMethods, []string{"header"}) {
			t.Errorf("%s: %+v", p, d)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+prmPaths[0], nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the metadata: %v %v", resp.StatusCode, err)
	}
}

func (e *mcpEnv) setFaults(token, body string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, e.url+"/admin/api/faults", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPRMFaults: each prm.* fault changes the metadata as
// docs/todo0-faults.md says, through the admin API, and switching it off
// restores the truth.
func TestPRMFaults(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	if st := e.setFaults("not-the-admin-token", `{"active":["prm.omit"]}`); st != http.StatusUnauthorized {
		t.Fatalf("wrong admin token: %d", st)
	}
	if st := e.setFaults(e.as.keys.ActiveKeyID(), `{"active":["prm.omit"]}`); st != http.StatusUnauthorized {
		t.Fatalf("wrong admin token: %d", st)
	}
	on := func(name string) {
		t.Helper()
		if st := e.setFaults(demo.MCPAdminToken, `{"active":["`+name+`"]}`); st != http.StatusOK {
			t.Fatalf("switch on %s: %d", name, st)
		}
	}
	on(FaultPRMOmit)
	for _, p := range prmPaths {
		if st, _ := e.getPRM(p); st != http.StatusNotFound {
			t.Errorf("prm.omit: %s answered %d", p, st)
		}
	}
	on(FaultPRMWrongResource)
	for _, p := range prmPaths {
		if st, d := e.getPRM(p); st != 200 || d.Resource == e.s.Resource() || d.Resource != wrongResource || d.AuthorizationServers[0] != e.as.URL {
			t.Errorf("prm.wrong_resource: %s %d %+v", p, st, d)
		}
	}
	on(FaultPRMWrongAS)
	for _, p := range prmPaths {
		if st, d := e.getPRM(p); st != 200 || d.Resource != e.s.Resource() || slices.Contains(d.AuthorizationServers, e.as.URL) || d.AuthorizationServers[0] != wrongAuthServer {
			t.Errorf("prm.wrong_authorization_server: %s %d %+v", p, st, d)
		}
	}
	if st := e.setFaults(demo.MCPAdminToken, `{"active":[]}`); st != http.StatusOK {
		t.Fatal(st)
	}
	if st, d := e.getPRM(prmPaths[0]); st != 200 || d.Resource != e.s.Resource() || d.AuthorizationServers[0] != e.as.URL {
		t.Errorf("faults off: %d %+v", st, d)
	}
}
