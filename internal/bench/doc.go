// Package bench holds the sandbox's benchmarks (go test -bench . ./internal/bench):
// the crypto floor, each step of the Cross App Access flow, the full flow and
// start-up. docs/performance.md explains how to read them as ratios.
package bench
