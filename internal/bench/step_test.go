package bench

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkStepVsFloor times each step of the flow next to its own
// cryptographic floor, interleaved (one step, then its floor, per
// iteration), and reports step/floor in wall time ("x-floor") and in CPU
// time of the whole process ("cpu-x-floor": client and server of the step
// run here, so this is what the step costs, and it does not move with the
// load other processes put on the machine). Targets: exchange < 1.2,
// redeem < 2, MCP call on an open session < 3.
//
//   - exchange: the IdP's token exchange over HTTP; floor RS256 verify (the
//     ID token) + RS256 sign (the ID-JAG);
//
//   - redeem: Todo0's jwt-bearer redemption over HTTP; floor RS256 verify
//     (the ID-JAG) + ES256 sign (the access token);
//
//   - mcp-list / mcp-create: list_todos / create_todo on an open MCP
//     session, called with the Go MCP SDK's client (as Agent0 calls it), so
//     the step's CPU time is Todo0 MCP's and Todo0's plus that client's;
//     floor ES256 verify (the access token);
//
//   - mcp-list-raw / mcp-create-raw: the same calls on the same open session
//     made by a minimal hand-written client (one JSON-RPC POST with the
//     session id and bearer headers, the answer read whole and only its
//     error/isError checked), so the step's CPU time is almost all the
//     servers' (Todo0 MCP and the Todo0 API call it makes); same floor.
//
//     go test -run '^$' -bench StepVsFloor -benchtime 400x ./internal/bench
func BenchmarkStepVsFloor(b *testing.B) {
	k := newFloorKeys(b)
	_, a := running(b)
	ctx := context.Background()
	claims := jwt.Claims{Issuer: "http://idp", Subject: "00u_alice", Audience: jwt.Audience{"http://todo0"}, ID: "j"}
	must := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	jag, err := a.Exchange(ctx)
	if err != nil {
		b.Fatal(err)
	}
	at, err := a.Redeem(ctx, jag)
	if err != nil {
		b.Fatal(err)
	}
	cs, err := a.Connect(ctx, at)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	var n int64
	call := func(name string, args map[string]any) error {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err == nil && res.IsError {
			err = fmt.Errorf("%s: tool error %v", name, res.Content)
		}
		return err
	}
	raw := newRawMCP(a, cs, at)
	rawCall := func(name string, args map[string]any) {
		if err := raw.call(ctx, name, args); err != nil {
			b.Fatal(err)
		}
	}
	for range 20 { // a short list, as a user who uses the app has
		n++
		if err := call("create_todo", map[string]any{"title": "step " + itoa(n)}); err != nil {
			b.Fatal(err)
		}
	}
	steps := []struct {
		name        string
		step, floor func()
	}{
		{"exchange", func() { must(a.Exchange(ctx)) }, func() {
			must(k.vIDT.Verify(ctx, k.idt))
			must(k.idp.Sign("oauth-id-jag+jwt", claims))
		}},
		{"redeem", nil, func() {
			must(k.vJAG.Verify(ctx, k.jag))
			must(k.todo0.Sign("at+jwt", claims))
		}},
		{"mcp-list", func() {
			if err := call("list_todos", map[string]any{}); err != nil {
				b.Fatal(err)
			}
		}, func() { must(k.vAT.Verify(ctx, k.at)) }},
		{"mcp-list-raw", func() { rawCall("list_todos", map[string]any{}) }, func() { must(k.vAT.Verify(ctx, k.at)) }},
		{"mcp-create", func() {
			n++
			if err := call("create_todo", map[string]any{"title": "step " + itoa(n)}); err != nil {
				b.Fatal(err)
			}
		}, func() { must(k.vAT.Verify(ctx, k.at)) }},
		{"mcp-create-raw", func() {
			n++
			rawCall("create_todo", map[string]any{"title": "step " + itoa(n)})
		}, func() { must(k.vAT.Verify(ctx, k.at)) }},
	}
	for _, st := range steps {
		b.Run(st.name, func(b *testing.B) {
			var stepT, floorT, stepC, floorC time.Duration
			var jags []string
			for b.Loop() {
				run := st.step
				if st.name == "redeem" {
					// ID-JAGs are single use: mint a batch outside the timing
					if len(jags) == 0 {
						b.StopTimer()
						for range 64 {
							j, err := a.Exchange(ctx)
							if err != nil {
								b.Fatal(err)
							}
							jags = append(jags, j)
						}
						b.StartTimer()
					}
					j := jags[len(jags)-1]
					jags = jags[:len(jags)-1]
					run = func() { must(a.Redeem(ctx, j)) }
				}
				c0, t0 := cpuTime(), time.Now()
				run()
				c1, t1 := cpuTime(), time.Now()
				st.floor()
				c2, t2 := cpuTime(), time.Now()
				stepT += t1.Sub(t0)
				floorT += t2.Sub(t1)
				stepC += c1 - c0
				floorC += c2 - c1
			}
			b.ReportMetric(float64(stepT.Microseconds())/float64(b.N), "step-us")
			b.ReportMetric(float64(floorT.Microseconds())/float64(b.N), "floor-us")
			b.ReportMetric(float64(stepT)/float64(floorT), "x-floor")
			b.ReportMetric(float64(stepC.Microseconds())/float64(b.N), "step-cpu-us")
			b.ReportMetric(float64(stepC)/float64(floorC), "cpu-x-floor")
		})
	}
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
