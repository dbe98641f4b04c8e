#!/usr/bin/env bash
# The test command: set up .venv with the project and its dev tools on a fresh machine,
# then run lint, type checks, the layer contract and the test suite. Extra arguments go to
# pytest: `bash scripts/test.sh -m "not backend and not browser and not slow"` is the inner loop.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]" -c constraints/ci.txt
.venv/bin/python -m pip check
# Users' installs: fresh venvs per Python with their bundled pip, no constraints file.
bash scripts/check_installs.sh
# Real OTLP backends (Phoenix, MLflow, the rotel collector), each in its own venv.
bash scripts/setup_backends.sh
# Debian's Chromium, for the trace viewer's browser tests.
bash scripts/setup_browser.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The layer contract of pyproject's [tool.importlinter] (docs/architecture.md).
.venv/bin/lint-imports
# The docs site: a broken link or a missing API reference fails (into a temp dir, not the repo).
site_dir=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -d "$site_dir"
rm -rf "$site_dir"
.venv/bin/python -m pytest "$@"

# The other Pythons we support, each in a venv of its own with the same pins (constraints/ci.txt
# holds a 3.10 line where a release needs 3.11), in the full run only: the inner loop (no
# backend server, no browser, nothing slow), then the slow tests of threads, processes and
# backpressure, whose behaviour is the interpreter's (3.10 hands the GIL over otherwise).
other_python() {
    local venv=.ci/venvs/py$1 interp
    interp=$(ls -d "$HOME"/.pyenv/versions/"$1".*/bin/python 2>/dev/null | sort -V | tail -1)
    [ -n "$interp" ] || interp=$(command -v "python$1")
    [ -x "$venv/bin/python" ] || "$interp" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e ".[dev]" -c constraints/ci.txt
    echo "== the inner loop on Python $1"
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -m "not backend and not browser and not slow"
    echo "== the slow tests of threads, processes and backpressure on Python $1"
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -m "slow and not backend and not browser" \
        tests/reliability tests/runtime
}
if [ "$#" -eq 0 ]; then
    for version in 3.10 3.12 3.13; do
        other_python "$version"
    done
fi
