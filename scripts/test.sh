#!/usr/bin/env bash
# The test command README states and CI runs (.ci/run calls this script): the environment when
# missing, lint, then the whole suite. pytest exits 5 when it collects no test: a failure here too.
# Tests that read ../shared/data skip when it is absent, or fail with ECG_EDGE_REQUIRE_DATA=1 (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/env.sh
. .venv/bin/activate
ruff check .
ruff format --check .
set +e
python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected"; exit 1; fi
exit "$rc"
