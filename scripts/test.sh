#!/usr/bin/env bash
# The README's test command (`npm test`) and CI's (.ci/run): sets up what a fresh Debian 12 machine
# lacks, starts the real services, builds the demo images, type-checks the whole tree, then runs
# the unit and integration tests. Extra arguments go to jest (e.g. `npm test -- test/integration/proxy`).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { # step NAME CMD... : run and time one setup step
  local name=$1; shift
  local t0=$EPOCHREALTIME
  "$@"
  awk -v n="$name" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "[test] %-22s %6.1fs\n", n, b - a }' >&2
}

# `npm install`, not `npm ci`: npm 11 writes lockfiles without other platforms' optional packages
# (@swc/core-darwin-*, ...) and then its own `npm ci` rejects them as out of sync.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm install" npm install --no-audit --no-fund
fi
step "services up" bash scripts/services.sh up
step "demo images" bash docker/build-images.sh
step "type-check (tsc -b)" npx tsc -b

results=$(mktemp)
set +e
# The fault suite (test/faults) is its own script, `npm run test:faults`: it restarts dockerd and etcd
# members, so it runs alone, and its minutes stay out of this command's 20.
npx jest --selectProjects unit integration --json --outputFile="$results" "$@"
status=$?
set -e
# A plain closing line that any CI can read, whatever jest printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$results" || true
rm -f "$results"
exit $status
