#!/usr/bin/env bash
# The README's test command (`npm test`) and CI's (.ci/run): sets up what a fresh Debian 12 machine
# lacks, starts the real services, builds the demo images, type-checks the whole tree, then runs
# the unit and integration tests, then the fault suite. Extra arguments go to jest (e.g.
# `npm test -- test/integration/proxy`) and leave the fault suite out.
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
# The password-protected registry for the registry-credential tests (test/integration/registry-auth.test.ts).
step "registry-auth up" bash scripts/services.sh up registry-auth
# etcd with TLS, client certificates and auth, for the least-privilege tests (test/integration/secure-etcd.test.ts).
step "etcd-secure up" bash scripts/services.sh up etcd-secure
step "demo images" bash docker/build-images.sh
step "type-check (tsc -b)" npx tsc -b

results=$(mktemp)
secure=$(mktemp)
faults=$(mktemp)
set +e
npx jest --selectProjects unit integration --json --outputFile="$results" "$@"
status=$?
# The fleet and rollout tests once more on etcd-secure (TLS, client certificates, auth), every
# process with least-privilege credentials: hosts, two coordinators of their own, an operator CLI.
if [ $# -eq 0 ]; then
  GANTRY_TEST_ETCD=secure npx jest test/integration/fleet-agents.test.ts test/integration/rollout.test.ts --selectProjects integration --json --outputFile="$secure"
  secure_status=$?
  [ $status -ne 0 ] || status=$secure_status
else
  echo '{}' > "$secure"
fi
# Then the fault suite (`npm run test:faults`, about 4 minutes), one file at a time and after the
# rest: it restarts dockerd and etcd members. Only for the whole run; extra jest arguments (a
# path, -t) select from unit and integration. GANTRY_SKIP_FAULTS=1 leaves it out.
if [ $# -eq 0 ] && [ -z "${GANTRY_SKIP_FAULTS:-}" ]; then
  step "etcd cluster up" bash scripts/services.sh up etcd-cluster
  report=${GANTRY_DEV_HOME:-/tmp/gantry-dev}/faults/report.jsonl
  mkdir -p "$(dirname "$report")"; : > "$report"
  GANTRY_FAULT_REPORT=$report npx jest -i --selectProjects faults --json --outputFile="$faults"
  fault_status=$?
  node scripts/fault-table.js "$report"
  [ $status -ne 0 ] || status=$fault_status
else
  echo '{}' > "$faults"
fi
set -e
# A plain closing line that any CI can read, whatever jest printed above it.
node -e '
  const read = (f) => { try { return JSON.parse(require("fs").readFileSync(f, "utf8")); } catch { return {}; } };
  const runs = process.argv.slice(1).map(read);
  const sum = (k) => runs.reduce((n, r) => n + (r[k] ?? 0), 0);
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed` + (sum("numPendingTests") ? `, ${sum("numPendingTests")} skipped` : ""));
' "$results" "$secure" "$faults" || true
rm -f "$results" "$secure" "$faults"
exit $status
