package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A load run with more agents than Todo0 MCP's default per-user session
// cap still has zero errors: every agent acts for alice, so the in-process
// sandbox raises the cap to one session per agent.
func TestLoadMoreAgentsThanSessionCap(t *testing.T) {
	if testing.Short() {
		t.Skip("a load run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out strings.Builder
	err := loadCmd(ctx, []string{"-c", "20", "-n", "40"}, &out)
	if err != nil || !strings.Contains(out.String(), " 0 errors") || !strings.Contains(out.String(), "0 lost, 0 duplicated, 0 stored but never acknowledged") {
		t.Fatalf("load -c 20: %v\n%s", err, out.String())
	}
}
