package check_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/check"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// The clients under test are this test binary run again with
// XAA_CHECK_TEST_CLIENT set: no build step, and each is a real process
// that gets its configuration the way any client would.
const clientModeEnv = "XAA_CHECK_TEST_CLIENT"

func TestMain(m *testing.M) {
	switch os.Getenv(clientModeEnv) {
	case "go-sdk-extauth":
		os.Exit(goSDKClient())
	case "misbehaving":
		os.Exit(misbehavingClient())
	}
	os.Exit(m.Run())
}

// goSDKClient is the Go MCP SDK's own Cross App Access client
// (extauth.EnterpriseHandler), configured from MCP_CONFORMANCE_CONTEXT as a
// conformance-suite client would be, plus the AS issuer the handler needs.
func goSDKClient() int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cc check.ConformanceContext
	if err := json.Unmarshal([]byte(os.Getenv(check.EnvConformanceCtx)), &cc); err != nil {
		fmt.Println("bad context:", err)
		return 2
	}
	mcpURL := os.Args[len(os.Args)-1]
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     cc.IdPIssuer,
		IdPCredentials:   &oauthex.ClientCredentials{ClientID: cc.IdPClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: cc.IdPClientSecret}},
		MCPAuthServerURL: os.Getenv(check.EnvASIssuer),
		MCPResourceURI:   mcpURL,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: cc.ClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: cc.ClientSecret}},
		MCPScopes:        strings.Fields(os.Getenv(check.EnvScope)),
		IDTokenFetcher: func(context.Context) (*oauth2.Token, error) {
			return (&oauth2.Token{AccessToken: "unused"}).WithExtra(map[string]any{"id_token": cc.IdPIDToken}), nil
		},
	})
	if err != nil {
		fmt.Println("config:", err)
		return 2
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "go-sdk-extauth", Version: "test"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: handler}, nil)
	if err != nil {
		fmt.Println("connect:", err)
		return 1
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list_todos", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		fmt.Println("list_todos:", err)
		return 1
	}
	fmt.Println("list_todos ok")
	return 0
}

// misbehavingClient does what the checklist forbids: it retries a refused
// exchange ten times, then falls back to an interactive authorization
// request, sends the access token in the query string, and never
// re-exchanges after a 401.
func misbehavingClient() int {
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(u string, form url.Values, id, secret string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := hc.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	mcpURL := os.Args[len(os.Args)-1]
	var jag string
	for range 10 {
		m := post(os.Getenv(check.EnvIdPTokenEndpoint), url.Values{
			"grant_type": {oauth.GrantTypeTokenExchange}, "requested_token_type": {oauth.TokenTypeIDJAG},
			"audience": {os.Getenv(check.EnvASIssuer)}, "resource": {mcpURL}, "scope": {os.Getenv(check.EnvScope)},
			"subject_token": {os.Getenv(check.EnvIDToken)}, "subject_token_type": {oauth.TokenTypeIDToken},
		}, os.Getenv(check.EnvIdPClientID), os.Getenv(check.EnvIdPClientSecret))
		if jag, _ = m["access_token"].(string); jag != "" {
			break
		}
	}
	if jag == "" {
		// The interactive fallback a managed client must never take.
		resp, err := hc.Get(os.Getenv(check.EnvASIssuer) + "/oauth2/authorize?response_type=code&client_id=" + os.Getenv(check.EnvClientID))
		if err == nil {
			resp.Body.Close()
		}
		return 0 // and it claims success
	}
	m := post(os.Getenv(check.EnvASIssuer)+"/oauth2/token", url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag}},
		os.Getenv(check.EnvClientID), os.Getenv(check.EnvClientSecret))
	at, _ := m["access_token"].(string)
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bad","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, mcpURL+"?access_token="+url.QueryEscape(at), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := hc.Do(req)
	if err != nil {
		return 1
	}
	resp.Body.Close()
	return 0
}

func runClientCheck(t *testing.T, mode string, q quirks.Set, scenarios ...string) *check.Report {
	t.Helper()
	rep, err := (&check.Client{Command: []string{os.Args[0], "-test.run=^$"}, Env: []string{clientModeEnv + "=" + mode},
		Timeout: 25 * time.Second, Scenarios: scenarios, Quirks: q}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// The Go MCP SDK's extauth client behaves as checklist 5 asks in every
// scenario, except what it does not do (it reads no protected resource
// metadata: its configuration names the AS).
func TestClientGoSDK(t *testing.T) {
	t.Parallel()
	rep := runClientCheck(t, "go-sdk-extauth", quirks.Set{})
	expectedWarnings := []string{"client.happy-path.discovery"}
	for _, res := range rep.Results {
		if res.Verdict != check.Pass && !slices.Contains(expectedWarnings, res.ID) {
			t.Errorf("%s: %s; expected %s, got %s; %s", res.ID, res.Verdict, res.Expected, res.Got, res.Detail)
		}
	}
	if rep.Failed() {
		t.Error("Failed() = true for the Go SDK client")
	}
}

// A client built to misbehave is caught, rule by rule.
func TestClientMisbehaving(t *testing.T) {
	t.Parallel()
	rep := runClientCheck(t, "misbehaving", quirks.Set{}, "happy-path", "access-token-expiry", "idp-refusal", "failing-idp")
	if res := rep.Result("client.happy-path.exchange"); res == nil || res.Verdict != check.Pass {
		t.Errorf("its exchange itself is right: %+v", res)
	}
	for _, id := range []string{
		"client.happy-path.no-token-in-url",     // access_token in the query string
		"client.access-token-expiry.reexchange", // never re-exchanges
		"client.idp-refusal.bounded",            // ten exchanges
		"client.idp-refusal.no-interactive",     // then /oauth2/authorize
		"client.idp-refusal.exit",               // and claims success
		"client.failing-idp.bounded",
		"client.failing-idp.no-interactive",
	} {
		res := rep.Result(id)
		if res == nil || res.Verdict != check.Fail {
			t.Errorf("%s: %+v, want a failure", id, res)
		}
	}
	if !rep.Failed() {
		t.Error("Failed() = false for the misbehaving client")
	}
}

// Vendor behaviours reach the client checker's sandboxes: the misbehaving
// client authenticates to the IdP with HTTP Basic, which the hosted
// playground's IdP (idp-client-auth-post-only) refuses.
func TestClientQuirks(t *testing.T) {
	t.Parallel()
	q, err := quirks.Parse("xaa-playground")
	if err != nil {
		t.Fatal(err)
	}
	rep := runClientCheck(t, "misbehaving", q, "happy-path")
	res := rep.Result("client.happy-path.exchange")
	if res == nil || res.Verdict != check.Fail || !strings.Contains(res.Got, "401") {
		t.Errorf("exchange with Basic at a post-only IdP: %+v", res)
	}
}
