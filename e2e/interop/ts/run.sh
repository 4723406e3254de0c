#!/usr/bin/env bash
# Runs the TypeScript MCP SDK's Cross App Access client (xaa.mjs) against a
# fresh sandbox on free loopback ports. Needs node >= 20 and npm.
# Usage: e2e/interop/ts/run.sh        (exit status is the script's)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"
# npm ci when the registry answers; otherwise the node_modules that npm ci
# makes from package-lock.json, packed beside the project for offline
# machines (XAA_OFFLINE_NPM names another copy of the archive).
offline="${XAA_OFFLINE_NPM:-$root/../shared/offline-npm/e2e-interop-ts-node_modules.tgz}"
if npm ping --fetch-retries=0 --fetch-timeout=5000 >/dev/null 2>&1; then
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
elif [ -f "$offline" ]; then
	echo "npm registry unreachable: using the offline node_modules in $offline" >&2
	rm -rf node_modules
	tar -xzf "$offline" -C "$here"
else
	echo "npm registry unreachable and no offline archive at $offline (set XAA_OFFLINE_NPM)" >&2
	exit 1
fi
data="$(mktemp -d)"
bin="$data/xaa-sandbox"
(cd "$root" && go build -o "$bin" .)
# Four free loopback ports, found with node (a fresh machine may lack python3 and curl).
read -r p1 p2 p3 p4 < <(node -e '
const net = require("net");
Promise.all([0, 1, 2, 3].map(() => new Promise(r => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); })))
  .then(ps => console.log(ps.join(" ")));')
"$bin" up --data-dir "$data/data" --idp-port "$p1" --agent0-port "$p2" --todo0-port "$p3" --mcp-port "$p4" >"$data/up.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
node -e '
const url = process.argv[1];
(async () => { for (let i = 0; i < 100; i++) { try { if ((await fetch(url)).ok) return; } catch {} await new Promise(r => setTimeout(r, 100)); } process.exit(1); })();' "http://localhost:$p4/healthz" || { cat "$data/up.log"; exit 1; }
XAA_TS_STRICT="${XAA_TS_STRICT:-1}" XAA_IDP="http://localhost:$p1" XAA_AGENT0="http://localhost:$p2" XAA_TODO0="http://localhost:$p3" XAA_MCP="http://localhost:$p4/mcp" \
  node xaa.mjs
