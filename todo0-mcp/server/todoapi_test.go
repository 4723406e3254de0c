package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTodoAPIReusesConnections: tool calls in flight at the same time each
// use a connection to Todo0, and the next wave of calls reuses all of them
// instead of dialling again (http.DefaultTransport keeps two idle).
func TestTodoAPIReusesConnections(t *testing.T) {
	const n = 8
	var dials atomic.Int64
	var inFlight sync.WaitGroup
	inFlight.Add(n)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Done()
		inFlight.Wait() // every call of the wave holds its own connection
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"todos":[]}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	api := &todoAPI{base: srv.URL, clientID: "todo0-mcp", secret: "s", http: &http.Client{Transport: newTodoAPITransport(), Timeout: 5 * time.Second}}
	wave := func() {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := api.list(context.Background(), "u", "", 10); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	wave()
	first := dials.Load()
	inFlight.Add(n)
	wave()
	if again := dials.Load() - first; again != 0 {
		t.Errorf("the second wave of %d calls dialled %d new connections (first wave: %d); want all reused", n, again, first)
	}
}
