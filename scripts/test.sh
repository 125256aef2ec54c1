#!/usr/bin/env bash
# The whole suite: type-check and build, unit tests (no root needed), then integration tests
# against the real kernel in sandbox namespaces, ending with the check that nothing was left.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
mapfile -t unit < <(find dist/test/unit -name '*.test.js' | sort)
mapfile -t integration < <(find dist/test/integration -name '*.test.js' | sort)
exec node --test --test-concurrency=1 "${unit[@]}" "${integration[@]}"
