package scenarios_test

import (
	"context"
	"fmt"

	"github.com/xaa-sandbox/xaa-sandbox/scenarios"
)

// A harness can play its own scenario: here against a fresh in-process
// sandbox; set Options.Target to play against parties running elsewhere
// (for example your own MCP server or authorization server).
func ExamplePlay() {
	sc, err := scenarios.Parse("replay.yaml", []byte(`
title: A replayed ID-JAG is refused
teaches: Todo0 redeems each jti once.
steps:
  - sign_in: alice
  - exchange: {}
  - redeem: {}
  - redeem: {}
    expect: {status: 400, error: invalid_grant}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := scenarios.Play(context.Background(), []*scenarios.Scenario{sc}, scenarios.Options{})[0]
	for _, st := range rep.Steps {
		fmt.Printf("%d %s: %s\n", st.N, st.Kind, st.Outcome)
	}
	fmt.Println("passed:", rep.Passed)
	// Output:
	// 1 sign_in: succeeded (HTTP 200)
	// 2 exchange: succeeded (HTTP 200)
	// 3 redeem: succeeded (HTTP 200)
	// 4 redeem: refused by todo0 with HTTP 400 invalid_grant
	// passed: true
}

// Scenario files are validated on load; errors name the file, line and field.
func ExampleParse() {
	_, err := scenarios.Parse("typo.yaml", []byte(`title: t
teaches: x
steps:
  - exchange: {audiance: "https://as.example"}
`))
	fmt.Println(err)
	// Output:
	// typo.yaml:4: steps[1].exchange.audiance: unknown field; known fields here: audience, client, dpop, extra, omit, requested_token_type, resource, scope, subject_token, subject_token_type
}
