#!/usr/bin/env bash
# The project's environment, made when missing: .venv with the CPU build of torch at its pinned
# version, then the project editable with its train and dev extras. Idempotent: a second run
# checks a stamp and installs nothing unless pyproject.toml or the pins changed.
#
#   bash scripts/env.sh                     # what `make demo`, `make test` and .ci/run start with
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/env.sh
#       # on plain PyPI: torch for Linux x86_64 is the CUDA build, which pulls 15 nvidia-* wheels,
#       # triton and the CUDA bindings (pip's dry run); this index has the CPU wheel of the version
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"
PYTHON="${PYTHON:-python3}"
want="torch==${TORCH_VERSION} index=${TORCH_INDEX_URL:-default} $(sha256sum pyproject.toml | cut -c1-16)"
stamp=.venv/.ecg-edge-env
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "error: ecg-edge needs Python 3.11 or newer; name one: PYTHON=python3.12 make demo" >&2
        exit 1
    fi
    "$PYTHON" -m venv .venv
fi
py=.venv/bin/python
"$py" -m pip install -q --upgrade pip
index=()
[ -n "$TORCH_INDEX_URL" ] && index=(--index-url "$TORCH_INDEX_URL")
"$py" -m pip install -q "torch==${TORCH_VERSION}" "${index[@]}"
"$py" -m pip install -q -e '.[train,dev]'
echo "$want" > "$stamp"
echo "environment ready: .venv (torch ${TORCH_VERSION}, ecg-edge editable with [train,dev])"
