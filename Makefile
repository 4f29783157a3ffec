# Two commands on a fresh machine; each makes the environment (.venv) when missing.
#   make demo   the live monitor on the embedded sample record (Ctrl-C stops)
#   make test   lint and the whole test suite, as CI runs it (.ci/run)
# On plain PyPI add TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu (see scripts/env.sh).

.PHONY: demo test env

env:
	bash scripts/env.sh

demo: env
	.venv/bin/edge-monitor replay

test:
	bash scripts/test.sh
