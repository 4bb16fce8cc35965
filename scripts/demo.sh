#!/usr/bin/env bash
# `npm run demo`, the README's main job: sets up what a fresh Debian 12 machine lacks, starts the
# local services, builds the tree, then runs a local three-host fleet through a deploy (test/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund  # not `npm ci`: see scripts/test.sh
bash scripts/services.sh up
npx tsc -b
node .build/test/demo/main.js
