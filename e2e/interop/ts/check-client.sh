#!/usr/bin/env bash
# Runs `go run . check client` on the TypeScript MCP SDK's Cross App Access
# client (check-client.mjs) and compares the verdicts with what this SDK
# version is known to do. Needs node >= 20 and npm (or the offline archive).
# Usage: e2e/interop/ts/check-client.sh     (exit status is the comparison's)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"
offline="${XAA_OFFLINE_NPM:-$root/../shared/offline-npm/e2e-interop-ts-node_modules.tgz}"
if [ ! -d node_modules/@modelcontextprotocol/client ]; then
	if npm ping --fetch-retries=0 --fetch-timeout=5000 >/dev/null 2>&1; then
		npm ci --no-audit --no-fund --loglevel=error >/dev/null
	elif [ -f "$offline" ]; then
		tar -xzf "$offline" -C "$here"
	else
		echo "npm registry unreachable and no offline archive at $offline (set XAA_OFFLINE_NPM)" >&2
		exit 1
	fi
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
report="$tmp/report.json"
(cd "$root" && go build -o "$tmp/xaa-sandbox" .)
"$tmp/xaa-sandbox" check client --json -- node "$here/check-client.mjs" >"$report" || true
# @modelcontextprotocol/client 2.4.0 keeps its stored access token after a
# 401 invalid_token (no invalidateCredentials in CrossAppAccessProvider), so
# it does not re-exchange: the one MUST it is known to fail. Anything else
# failing, or this starting to pass, is a change to look at.
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const known = new Set(["client.access-token-expiry.reexchange"]);
let bad = 0;
for (const x of r.results) {
  const failedMust = x.verdict === "fail" && x.level === "MUST";
  if (failedMust !== known.has(x.id)) { console.error(`unexpected: ${x.id} ${x.verdict} (expected ${x.expected}, got ${x.got})`); bad++; }
}
console.log(`${r.results.length} rules checked, ${bad} unexpected verdicts`);
process.exit(bad ? 1 : 0);' "$report"
