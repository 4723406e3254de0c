#!/usr/bin/env bash
# Runs the TypeScript MCP SDK's Cross App Access client (xaa.mjs) against a
# fresh sandbox on free loopback ports. Needs node >= 20 and npm.
# Usage: e2e/interop/ts/run.sh        (exit status is the script's)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
data="$(mktemp -d)"
bin="$data/xaa-sandbox"
(cd "$root" && go build -o "$bin" .)
read -r p1 p2 p3 p4 < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(4)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])
[s.close() for s in ss]')
"$bin" up --data-dir "$data/data" --idp-port "$p1" --agent0-port "$p2" --todo0-port "$p3" --mcp-port "$p4" >"$data/up.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -fs "http://localhost:$p4/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
XAA_IDP="http://localhost:$p1" XAA_AGENT0="http://localhost:$p2" XAA_TODO0="http://localhost:$p3" XAA_MCP="http://localhost:$p4/mcp" \
  node xaa.mjs
