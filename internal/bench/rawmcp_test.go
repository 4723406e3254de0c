package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
)

// rawMCP calls tools on an MCP session the Go SDK's client opened, with
// nothing but net/http and one small decode per answer, so a benchmark can
// tell the server's cost from the SDK client's.
type rawMCP struct {
	http                         *http.Client
	url, session, version, authz string
	id                           int64
}

func newRawMCP(a *load.Agent, cs *mcp.ClientSession, accessToken string) *rawMCP {
	return &rawMCP{http: a.HTTP, url: a.T.MCPResource, session: cs.ID(), version: cs.InitializeResult().ProtocolVersion, authz: "Bearer " + accessToken}
}

// call POSTs one tools/call request and reads the answer, plain JSON or a
// server-sent event stream, whichever the server chose.
func (c *rawMCP) call(ctx context.Context, name string, args map[string]any) error {
	c.id++
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "raw-" + itoa(c.id), "method": "tools/call", "params": map[string]any{"name": name, "arguments": args}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", c.authz)
	req.Header.Set("Mcp-Session-Id", c.session)
	req.Header.Set("Mcp-Protocol-Version", c.version)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", name, resp.StatusCode, data)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		i := bytes.Index(data, []byte("data: "))
		if i < 0 {
			return fmt.Errorf("%s: no data in the event stream: %s", name, data)
		}
		data = data[i+len("data: "):]
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			data = data[:j]
		}
	}
	var out struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case out.Error != nil:
		return fmt.Errorf("%s: %s", name, out.Error.Message)
	case out.Result == nil || out.Result.IsError:
		return fmt.Errorf("%s: tool error: %s", name, data)
	}
	return nil
}
