#!/usr/bin/env bash
# The test command README states and CI runs (.ci/run calls this script): the environment when
# missing, lint, then the whole suite. pytest exits 5 when it collects no test: a failure here too.
# Tests that read ../shared/data skip when it is absent, or fail with ECG_EDGE_REQUIRE_DATA=1 (CI).
# Two pytest-xdist workers, one module each at a time (module fixtures are built once): CI has 2
# cores, and the serial-port, terminal and bench tests (about 115 s of a 307 s one-process run)
# mostly wait on processes running in real time. Modules go out in collection order, where the
# ones with tests marked slow come first (tests/conftest.py), not xdist's most-tests-first.
# More or fewer workers: `bash scripts/test.sh -n 4`; one process: `-n 0`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/env.sh
. .venv/bin/activate
ruff check .
ruff format --check .
set +e
python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected"; exit 1; fi
exit "$rc"
