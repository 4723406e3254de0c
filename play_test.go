package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestPlayTargetAsksForYes: against a running sandbox, scenarios that change
// it for everyone are not played without --yes, and the refusal says what
// each would change and what is put back. (The address answers nothing: the
// refusal comes before any request.)
func TestPlayTargetAsksForYes(t *testing.T) {
	var out, errOut bytes.Buffer
	err := play(context.Background(), []string{"--target", "idp=http://127.0.0.1:9,agent0=http://127.0.0.1:9,todo0=http://127.0.0.1:9,mcp=http://127.0.0.1:9", "user-deactivated", "idp-session-revoked", "wrong-typ"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("play --target without --yes: err = %v", err)
	}
	for _, want := range []string{"user-deactivated:", "deactivate the user alice (restored afterwards)", "idp-session-revoked:", "(cannot be undone)", "Play them anyway with --yes"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("the notice lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "wrong-typ") {
		t.Errorf("wrong-typ changes nothing global but is listed:\n%s", errOut.String())
	}
}
