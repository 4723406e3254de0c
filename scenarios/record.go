package scenarios

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

// Call is one HTTP request and its response as the narrator shows it:
// secrets and tokens shortened, JWTs decoded beside it.
type Call struct {
	Party   string     `json:"party"`
	Method  string     `json:"method"`
	URL     string     `json:"url"`
	Auth    string     `json:"auth,omitempty"`
	Params  [][]string `json:"params,omitempty"` // [name, shown value]
	Status  int        `json:"status"`
	Headers [][]string `json:"headers,omitempty"` // response headers worth seeing
	Body    string     `json:"body,omitempty"`    // response body, tokens shortened
	Err     string     `json:"error,omitempty"`   // transport error
	Elapsed string     `json:"elapsed"`
	Tokens  []Decoded  `json:"tokens,omitempty"`
}

// Decoded is a JWT shown without its signature.
type Decoded struct {
	Label  string         `json:"label"`
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims,omitempty"`
	// Seen names the step that already showed this token (then Header and
	// Claims are left out).
	Seen string `json:"seen,omitempty"`
	raw  string
}

// sensitiveKeys are parameter and JSON field names whose values are
// credentials: shown shortened (httpx.Redact), never whole.
var sensitiveKeys = map[string]bool{
	"code": true, "access_token": true, "id_token": true, "refresh_token": true,
	"subject_token": true, "actor_token": true, "assertion": true, "client_secret": true,
	"client_assertion": true, "password": true, "code_verifier": true, "token": true,
}

// decode returns the JWT decoded for display, or nil if raw is not one.
func decode(label, raw string) *Decoded {
	if strings.Count(raw, ".") != 2 {
		return nil
	}
	h, c, err := jwtverify.Peek(raw)
	if err != nil {
		return nil
	}
	return &Decoded{Label: label, Header: h, Claims: c, raw: raw}
}

// response is what a step reads back from a call.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// request describes one HTTP call a step makes.
type request struct {
	Party  string
	Method string
	URL    string
	Form   url.Values // sent as application/x-www-form-urlencoded
	JSON   any        // sent as application/json (instead of Form)
	Basic  *[2]string // client id, secret
	Bearer string
	// Scheme is the Authorization scheme for Bearer's token ("Bearer" when
	// empty; "DPoP" for a DPoP-bound token).
	Scheme  string
	Headers map[string]string
	Timeout time.Duration
}

// do sends req with hc, records it as a Call and returns the response.
func do(ctx context.Context, hc *http.Client, req request) (*response, *Call, error) {
	call := &Call{Party: req.Party, Method: req.Method, URL: req.URL}
	var body io.Reader
	ct := ""
	switch {
	case req.JSON != nil:
		b, _ := json.Marshal(req.JSON)
		body, ct = bytes.NewReader(b), "application/json"
		// Shown as JSON, indented; the wire carries it compact.
		var pretty bytes.Buffer
		if json.Indent(&pretty, b, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(b)
		}
		call.Params = [][]string{{"json", pretty.String()}}
	case req.Form != nil:
		body, ct = strings.NewReader(req.Form.Encode()), "application/x-www-form-urlencoded"
		keys := make([]string, 0, len(req.Form))
		for k := range req.Form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range req.Form[k] {
				shown := v
				if sensitiveKeys[k] {
					shown = httpx.Redact(v)
					if d := decode(k, v); d != nil {
						call.Tokens = append(call.Tokens, *d)
					}
				}
				call.Params = append(call.Params, []string{k, shown})
			}
		}
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, call, err
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	switch {
	case req.Basic != nil:
		hr.SetBasicAuth(url.QueryEscape(req.Basic[0]), url.QueryEscape(req.Basic[1]))
		// As sent: base64 of id:secret (RFC 6749 2.3.1), shortened, and what it encodes.
		call.Auth = "Basic " + httpx.Redact(base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(req.Basic[0])+":"+url.QueryEscape(req.Basic[1])))) +
			"   (base64 of " + req.Basic[0] + ":" + httpx.Redact(req.Basic[1]) + ")"
	case req.Bearer != "":
		scheme := req.Scheme
		if scheme == "" {
			scheme = "Bearer"
		}
		hr.Header.Set("Authorization", scheme+" "+req.Bearer)
		call.Auth = scheme + " " + httpx.Redact(req.Bearer)
		if d := decode("bearer token", req.Bearer); d != nil {
			call.Tokens = append(call.Tokens, *d)
		}
	}
	start := time.Now()
	resp, err := hc.Do(hr)
	call.Elapsed = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		call.Err = err.Error()
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
			call.Err = "no answer within " + req.Timeout.String() + " (the client gave up)"
		}
		return nil, call, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		call.Err = err.Error()
		return nil, call, err
	}
	out := &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	call.Status = resp.StatusCode
	for _, h := range []string{"WWW-Authenticate", "Cache-Control", "Mcp-Session-Id", "Location"} {
		if v := resp.Header.Get(h); v != "" {
			if h == "Mcp-Session-Id" {
				v = httpx.Redact(v)
			}
			call.Headers = append(call.Headers, []string{h, v})
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b = sseData(b)
		out.Body = b
	}
	var m map[string]any
	var anyJSON any
	if json.Unmarshal(b, &m) == nil {
		out.JSON = m
		shown := redactJSON(foldTextCopy(m), call, "")
		pretty, _ := json.MarshalIndent(shown, "", "  ")
		call.Body = string(pretty)
	} else if json.Unmarshal(b, &anyJSON) == nil {
		pretty, _ := json.MarshalIndent(redactJSON(anyJSON, call, ""), "", "  ")
		call.Body = string(pretty)
	} else {
		call.Body = strings.TrimSpace(string(b))
		if len(call.Body) > 600 {
			call.Body = call.Body[:600] + "…"
		}
	}
	return out, call, nil
}

// textCopyNote replaces, in the narration only, a tool result's text
// content that is its structuredContent serialised: MCP asks a tool with
// structured output to return that JSON as text too, for clients that read
// only content, and shown as an escaped string it would hide the result
// the learner is looking for.
const textCopyNote = "‹structuredContent below, serialised as JSON for clients that read only content›"

// foldTextCopy returns m with each such text copy in result.content
// replaced by textCopyNote; m itself is not changed.
func foldTextCopy(m map[string]any) map[string]any {
	res, _ := m["result"].(map[string]any)
	content, _ := res["content"].([]any)
	sc, ok := res["structuredContent"]
	if !ok || len(content) == 0 {
		return m
	}
	folded := make([]any, len(content))
	changed := false
	for i, c := range content {
		folded[i] = c
		item, _ := c.(map[string]any)
		text, _ := item["text"].(string)
		var parsed any
		if item["type"] != "text" || json.Unmarshal([]byte(text), &parsed) != nil || !reflect.DeepEqual(parsed, sc) {
			continue
		}
		copyItem := maps.Clone(item)
		copyItem["text"] = textCopyNote
		folded[i] = copyItem
		changed = true
	}
	if !changed {
		return m
	}
	res = maps.Clone(res)
	res["content"] = folded
	m = maps.Clone(m)
	m["result"] = res
	return m
}

// redactJSON copies v with credentials shortened, decoding each JWT it
// shortens into call.Tokens.
func redactJSON(v any, call *Call, key string) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			out[k] = redactJSON(x, call, k)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = redactJSON(x, call, key)
		}
		return out
	case string:
		if sensitiveKeys[key] {
			if d := decode(key, t); d != nil {
				call.Tokens = append(call.Tokens, *d)
			}
			return httpx.Redact(t)
		}
		return t
	}
	return v
}

// sseData returns the data of the last event of a text/event-stream body:
// the Go MCP SDK answers a POST with one event carrying the JSON-RPC reply.
func sseData(b []byte) []byte {
	var last []byte
	var cur []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "data:"):
			cur = append(cur, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		case line == "":
			if len(cur) > 0 {
				last = []byte(strings.Join(cur, "\n"))
				cur = nil
			}
		}
	}
	if len(cur) > 0 {
		last = []byte(strings.Join(cur, "\n"))
	}
	return last
}

// oauthError reads an RFC 6749 error body.
func oauthError(r *response) (code, desc string) {
	if r == nil || r.JSON == nil {
		return "", ""
	}
	code, _ = r.JSON["error"].(string)
	desc, _ = r.JSON["error_description"].(string)
	return code, desc
}

// challengeParam reads one parameter of a WWW-Authenticate Bearer challenge.
func challengeParam(h, name string) string {
	i := strings.Index(h, name+`="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(name)+2:]
	if j := strings.Index(rest, `"`); j >= 0 {
		return rest[:j]
	}
	return ""
}
