#!/usr/bin/env bash
# The test command: ruff, then every test (slow end-to-end ones included) on real engines.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .artifacts
.venv/bin/ruff check .
# the layers (pyproject.toml [tool.importlinter]): nothing imports a layer above it
.venv/bin/lint-imports
rc=0
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 \
  --junitxml=.artifacts/junit.xml "$@" || rc=$?
# pytest exits 5 when it collected nothing: that is a failure of the suite, not a pass.
exit $rc
