package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// healthcheck is what Docker runs in the scratch image: its exit status (nil
// error = 0) must follow the party's /healthz.
func TestHealthcheck(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database closed", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hanging.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"URL answers 200", nil, []string{healthy.URL + "/healthz"}, ""},
		{"party name reads its public URL from its env", map[string]string{"TODO0_PUBLIC_URL": healthy.URL + "/"}, []string{"todo0"}, ""},
		{"every party has its env", map[string]string{"TODO0_MCP_PUBLIC_URL": healthy.URL}, []string{"todo0-mcp"}, ""},
		{"party not answering 200 is unhealthy", map[string]string{"IDP_PUBLIC_URL": failing.URL}, []string{"idp"}, "503 Service Unavailable"},
		{"party not listening is unhealthy", map[string]string{"AGENT0_PUBLIC_URL": closed.URL}, []string{"agent0"}, "connection refused"},
		{"party that hangs is unhealthy after the timeout", nil, []string{"-timeout", "100ms", hanging.URL}, "deadline exceeded"},
		{"unknown party", nil, []string{"todo1"}, "neither a party"},
		{"no argument", nil, nil, "name one party or URL"},
		{"two arguments", nil, []string{"idp", "todo0"}, "name one party or URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out strings.Builder
			err := healthcheck(context.Background(), tc.args, &out, io.Discard)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("healthcheck %v: %v, want healthy", tc.args, err)
			case tc.wantErr == "" && !strings.Contains(out.String(), "healthy"):
				t.Fatalf("healthcheck output %q, want it to say healthy", out.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("healthcheck %v: %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

// hold keeps the holder container alive until it is signalled, and no longer.
func TestHoldReturnsWhenSignalled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hold(ctx, nil, io.Discard) }()
	select {
	case err := <-done:
		t.Fatalf("hold returned before the signal: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hold: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hold did not return after the signal")
	}
	var usage strings.Builder
	if err := hold(context.Background(), []string{"extra"}, &usage); err == nil {
		t.Fatal("hold with an argument: no error")
	}
	if !strings.Contains(usage.String(), "Usage: xaa-sandbox hold") {
		t.Errorf("hold with an argument printed %q, want its usage", usage.String())
	}
}
