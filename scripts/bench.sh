#!/usr/bin/env bash
# `npm run bench`: starts the services, builds the images and the tree, then runs test/bench and
# prints figures. Benchmarks measure; they do not pass or fail on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund  # not `npm ci`: see scripts/test.sh
bash scripts/services.sh up
bash docker/build-images.sh >/dev/null
npx tsc -b
node .build/test/bench/main.js
