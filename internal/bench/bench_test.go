package bench

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// floorKeys are signing keys as the parties configure them: the IdP signs ID
// tokens and ID-JAGs with RS256 (2048-bit), Todo0 signs access tokens with ES256.
type floorKeys struct {
	idp, todo0 *keys.Set
	idt, jag   string // an ID token and an ID-JAG, RS256
	at         string // an access token, ES256
	vIDT, vJAG jwtverify.Verifier
	vAT        jwtverify.Verifier
}

func newFloorKeys(b *testing.B) *floorKeys {
	b.Helper()
	open := func(name string, alg jose.SignatureAlgorithm) *keys.Set {
		db, err := sqlitedb.Open(context.Background(), filepath.Join(b.TempDir(), name+".db"), []string{keys.Migration})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		ks, err := keys.Open(context.Background(), db, alg)
		if err != nil {
			b.Fatal(err)
		}
		return ks
	}
	k := &floorKeys{idp: open("idp", jose.RS256), todo0: open("todo0", jose.ES256)}
	now := time.Now()
	claims := jwt.Claims{Issuer: "http://idp", Subject: "00u_alice", Audience: jwt.Audience{"x"}, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)), ID: "j"}
	var err error
	claims.Audience = jwt.Audience{"agent0"}
	if k.idt, err = k.idp.Sign("JWT", claims); err != nil {
		b.Fatal(err)
	}
	claims.Audience = jwt.Audience{"http://todo0"}
	if k.jag, err = k.idp.Sign("oauth-id-jag+jwt", claims); err != nil {
		b.Fatal(err)
	}
	claims.Issuer, claims.Audience = "http://todo0", jwt.Audience{"http://mcp/mcp"}
	if k.at, err = k.todo0.Sign("at+jwt", claims); err != nil {
		b.Fatal(err)
	}
	verifier := func(iss, aud, typ string, ks *keys.Set) jwtverify.Verifier {
		return jwtverify.Verifier{Typ: typ, Issuers: map[string]jwtverify.KeySource{iss: ks}, Audience: aud, Skew: 30 * time.Second}
	}
	k.vIDT = verifier("http://idp", "agent0", "JWT", k.idp)
	k.vJAG = verifier("http://idp", "http://todo0", "oauth-id-jag+jwt", k.idp)
	k.vAT = verifier("http://todo0", "http://mcp/mcp", "at+jwt", k.todo0)
	return k
}

// BenchmarkCryptoFloor is the signing and verification one flow needs, with
// the parties' algorithms and the same JWT code paths (keys.Set.Sign,
// jwtverify.Verify), and nothing else: the exchange verifies an ID token
// (RS256) and signs an ID-JAG (RS256); the redemption verifies the ID-JAG
// (RS256) and signs an access token (ES256); the MCP server verifies the
// access token (ES256). "flow" is those five in a row.
func BenchmarkCryptoFloor(b *testing.B) {
	k := newFloorKeys(b)
	ctx := context.Background()
	claims := jwt.Claims{Issuer: "http://idp", Subject: "00u_alice", Audience: jwt.Audience{"http://todo0"}, ID: "j"}
	must := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("RS256-sign", func(b *testing.B) {
		for b.Loop() {
			must(k.idp.Sign("oauth-id-jag+jwt", claims))
		}
	})
	b.Run("RS256-verify", func(b *testing.B) {
		for b.Loop() {
			must(k.vJAG.Verify(ctx, k.jag))
		}
	})
	b.Run("ES256-sign", func(b *testing.B) {
		for b.Loop() {
			must(k.todo0.Sign("at+jwt", claims))
		}
	})
	b.Run("ES256-verify", func(b *testing.B) {
		for b.Loop() {
			must(k.vAT.Verify(ctx, k.at))
		}
	})
	b.Run("flow", func(b *testing.B) {
		for b.Loop() {
			must(k.vIDT.Verify(ctx, k.idt))
			must(k.idp.Sign("oauth-id-jag+jwt", claims))
			must(k.vJAG.Verify(ctx, k.jag))
			must(k.todo0.Sign("at+jwt", claims))
			must(k.vAT.Verify(ctx, k.at))
		}
	})
	b.Run("flow-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				must(k.vIDT.Verify(ctx, k.idt))
				must(k.idp.Sign("oauth-id-jag+jwt", claims))
				must(k.vJAG.Verify(ctx, k.jag))
				must(k.todo0.Sign("at+jwt", claims))
				must(k.vAT.Verify(ctx, k.at))
			}
		})
	})
}

// running is a sandbox in-process with one signed-in agent.
func running(b *testing.B) (*sandbox.Sandbox, *load.Agent) {
	b.Helper()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.Close() })
	t := load.Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}
	a, err := load.SignIn(ctx, t, load.NewHTTPClient(64), "alice", "alice-demo")
	if err != nil {
		b.Fatal(err)
	}
	return sb, a
}

// BenchmarkExchange is one token exchange at the IdP (ID token -> ID-JAG).
func BenchmarkExchange(b *testing.B) {
	_, a := running(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.Exchange(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedeem is one jwt-bearer redemption at Todo0 (ID-JAG -> access
// token); the ID-JAGs are minted outside the timer.
func BenchmarkRedeem(b *testing.B) {
	_, a := running(b)
	ctx := context.Background()
	jags := make([]string, 0, 256)
	for b.Loop() {
		if len(jags) == 0 {
			b.StopTimer()
			for range cap(jags) {
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
		if _, err := a.Redeem(ctx, j); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMCPToolCall is create_todo: "session" opens an MCP session
// (initialize), calls the tool and closes it, as each load flow does;
// "call" is the tool call alone on a session kept open.
func BenchmarkMCPToolCall(b *testing.B) {
	_, a := running(b)
	ctx := context.Background()
	jag, err := a.Exchange(ctx)
	if err != nil {
		b.Fatal(err)
	}
	at, err := a.Redeem(ctx, jag)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.CreateTodo(ctx, at, "bench "+itoa(n.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("call", func(b *testing.B) {
		cs, err := a.Connect(ctx, at)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		for b.Loop() {
			if _, err := callCreate(ctx, cs, "bench "+itoa(n.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFullFlow is exchange -> redeem -> MCP create_todo (new session),
// sequentially ("serial") and from GOMAXPROCS*p goroutines ("parallel-p").
func BenchmarkFullFlow(b *testing.B) {
	_, a := running(b)
	ctx := context.Background()
	var n atomic.Int64
	flow := func() error {
		jag, err := a.Exchange(ctx)
		if err != nil {
			return err
		}
		at, err := a.Redeem(ctx, jag)
		if err != nil {
			return err
		}
		_, err = a.CreateTodo(ctx, at, "bench flow "+itoa(n.Add(1)))
		return err
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := flow(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range []int{4, 32} {
		b.Run("parallel-"+itoa(int64(p)), func(b *testing.B) {
			b.SetParallelism(p)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := flow(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStartup starts all four parties in-process on a data directory
// that already holds their databases and keys, until every listener accepts,
// then stops them (stopping is outside the timer).
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	sb.Close()
	for b.Loop() {
		sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		sb.Close()
		b.StartTimer()
	}
}

// BenchmarkFlowVsFloor interleaves one full flow and one crypto-floor flow
// per iteration, timing each, so both see the same background load on a
// shared machine. It reports floor/flow as a percentage: the target
// is >= 70 (the flow's cost is at most 1/0.7 of its signatures and
// verifications).
func BenchmarkFlowVsFloor(b *testing.B) {
	k := newFloorKeys(b)
	_, a := running(b)
	ctx := context.Background()
	claims := jwt.Claims{Issuer: "http://idp", Subject: "00u_alice", Audience: jwt.Audience{"http://todo0"}, ID: "j"}
	var flowT, floorT time.Duration
	var n int64
	for b.Loop() {
		t0 := time.Now()
		jag, err := a.Exchange(ctx)
		if err != nil {
			b.Fatal(err)
		}
		at, err := a.Redeem(ctx, jag)
		if err != nil {
			b.Fatal(err)
		}
		n++
		if _, err := a.CreateTodo(ctx, at, "ratio "+itoa(n)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		_, e1 := k.vIDT.Verify(ctx, k.idt)
		_, e2 := k.idp.Sign("oauth-id-jag+jwt", claims)
		_, e3 := k.vJAG.Verify(ctx, k.jag)
		_, e4 := k.todo0.Sign("at+jwt", claims)
		_, e5 := k.vAT.Verify(ctx, k.at)
		t2 := time.Now()
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil {
			b.Fatal(e1, e2, e3, e4, e5)
		}
		flowT += t1.Sub(t0)
		floorT += t2.Sub(t1)
	}
	b.ReportMetric(float64(flowT.Microseconds())/float64(n)/1000, "flow-ms")
	b.ReportMetric(float64(floorT.Microseconds())/float64(n)/1000, "floor-ms")
	b.ReportMetric(100*float64(floorT)/float64(flowT), "floor/flow-%")
}
