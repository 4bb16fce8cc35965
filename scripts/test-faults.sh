#!/usr/bin/env bash
# `npm run test:faults`: the fault suite (test/faults). Each test breaks one real part under load
# (HAProxy, dockerd, the state directory, etcd members, the network, the coordinator) and records
# what it injected, requests sent and failed, time to recovery and containers replaced; the table
# is printed at the end. Sets up what `npm test` sets up. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm install --no-audit --no-fund; fi
bash scripts/services.sh up
bash scripts/services.sh up etcd-cluster
bash docker/build-images.sh
npx tsc -b
report=${GANTRY_FAULT_REPORT:-${GANTRY_DEV_HOME:-/tmp/gantry-dev}/faults/report.jsonl}
mkdir -p "$(dirname "$report")"; : > "$report"
set +e
# One file at a time (-i): a file restarts dockerd or etcd members that the others would be using.
GANTRY_FAULT_REPORT=$report npx jest -i --selectProjects faults "$@"
status=$?
set -e
echo
node scripts/fault-table.js "$report"
exit $status
