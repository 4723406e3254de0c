package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	fastjson "github.com/segmentio/encoding/json"
)

// todoAPI is Todo0's service API, called with this server's own client
// credentials (HTTP Basic), naming the user from the verified access token.
type todoAPI struct {
	base, clientID, secret string
	http                   *http.Client
}

// apiError is a refusal from Todo0, shown to the model as a tool error.
type apiError struct {
	Status     int
	Code, Desc string
}

func (e *apiError) Error() string {
	if e.Status == http.StatusNotFound {
		return "not found: " + e.Desc
	}
	return fmt.Sprintf("Todo0 refused (%d %s): %s", e.Status, e.Code, e.Desc)
}

func (a *todoAPI) do(ctx context.Context, method, userID, suffix string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := a.base + "/api/v1/users/" + url.PathEscape(userID) + "/todos" + suffix
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(url.QueryEscape(a.clientID), url.QueryEscape(a.secret))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("Todo0 is unreachable: %w", err)
	}
	defer resp.Body.Close()
	// A page is far below the limit; a longer or cut-off answer is an error
	// the caller sees, never a silently truncated list.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("reading Todo0's answer: %w", err)
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("Todo0's answer is longer than %d bytes", maxAnswer)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(data, &e)
		return &apiError{Status: resp.StatusCode, Code: e.Error, Desc: e.Description}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	// Decoding a page of todos with encoding/json took a twentieth of a
	// list_todos call's CPU; this decoder (the one the MCP SDK itself uses)
	// takes a fifth of that.
	if err := fastjson.Unmarshal(data, out); err != nil {
		return fmt.Errorf("Todo0's answer is not the expected JSON: %w", err)
	}
	return nil
}

// newTodoAPITransport is the connection pool to Todo0: every tool call is a
// request to Todo0's service API, so as many connections as there are calls
// in flight stay open for reuse (http.DefaultTransport keeps only two idle
// per host, and every concurrent call beyond that would dial a new TCP
// connection and leave it in TIME_WAIT).
func newTodoAPITransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdleTodoConns
	t.MaxIdleConnsPerHost = maxIdleTodoConns
	return t
}

// maxIdleTodoConns is how many idle connections to Todo0 are kept.
const maxIdleTodoConns = 64

// maxAnswer bounds what is read of one Todo0 answer (a page of 100 todos is
// well under 100 KB).
const maxAnswer = 1 << 20

// list returns one page of the user's todos and the cursor of the next.
func (a *todoAPI) list(ctx context.Context, userID, cursor string, limit int) ([]Todo, string, error) {
	var out struct {
		Todos      []Todo `json:"todos"`
		NextCursor string `json:"next_cursor"`
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if err := a.do(ctx, http.MethodGet, userID, "?"+q.Encode(), nil, &out); err != nil {
		return nil, "", err
	}
	if out.Todos == nil {
		out.Todos = []Todo{}
	}
	return out.Todos, out.NextCursor, nil
}

func (a *todoAPI) create(ctx context.Context, userID, title, actingClient string) (Todo, error) {
	var t Todo
	err := a.do(ctx, http.MethodPost, userID, "", map[string]string{"title": title, "acting_client": actingClient}, &t)
	return t, err
}

func (a *todoAPI) setDone(ctx context.Context, userID string, id int64, done bool) (Todo, error) {
	var t Todo
	err := a.do(ctx, http.MethodPatch, userID, fmt.Sprintf("/%d", id), map[string]bool{"done": done}, &t)
	return t, err
}

func (a *todoAPI) delete(ctx context.Context, userID string, id int64) error {
	return a.do(ctx, http.MethodDelete, userID, fmt.Sprintf("/%d", id), nil, nil)
}
