#!/usr/bin/env bash
# Installs the real OTLP backends that the end-to-end tests run on 127.0.0.1 (see
# tests/helpers/backends.py): Arize Phoenix, the MLflow tracking server and the rotel collector, each
# in its own venv under .ci/venvs/ so that their dependency pins never bend the project's.
# Idempotent: a venv whose server executable exists and whose stamp file records the current
# requirement is left alone, so a second run takes under a second; changing a requirement
# below rebuilds that one venv. Override the interpreter with PYTHON=... (it must be CPython 3.11:
# the rotel wheel is cp311 and its agent binary links against Debian's libpython3.11).
#
# Verified on 2026-11-28 with Python 3.11.7: arize-phoenix 20.26.1, mlflow 3.17.2, rotel 0.0.1a15
# (agent 0.0.1-alpha10), installed side by side in about 75 s on a fresh machine (exact
# versions are printed at the end of every run). The caps below admit those majors only, so a
# new major cannot change the servers' flags or read-back APIs under the tests by surprise.
set -euo pipefail
cd "$(dirname "$0")/.."

VENVS=.ci/venvs

pick_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.11; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "setup_backends.sh: need CPython 3.11 (set PYTHON=...)" >&2
    return 1
}
python=$(pick_python)

# make_venv NAME EXECUTABLE REQUIREMENT...: create .ci/venvs/NAME with REQUIREMENTs installed,
# unless EXECUTABLE (a path inside the venv) exists and the stamp file records the same
# REQUIREMENTs: then nothing is done. Changing a requirement below rebuilds that venv once.
# Runs in the background; see `wait` below.
make_venv() {
    local name=$1 executable=$2
    shift 2
    local dir=$VENVS/$name
    local stamp=$dir/.setup-backends-stamp
    local want="$*"
    if [ -e "$dir/$executable" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    rm -rf "$dir"
    "$python" -m venv "$dir"
    if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
        >"$VENVS/$name.install.log" 2>&1; then
        echo "setup_backends.sh: installing $name failed; log follows" >&2
        cat "$VENVS/$name.install.log" >&2
        rm -rf "$dir" # nothing half-installed left behind: the next run starts over
        return 1
    fi
    if [ ! -e "$dir/$executable" ]; then
        echo "setup_backends.sh: $name installed but $dir/$executable is missing" >&2
        return 1
    fi
    echo "$want" >"$stamp"
    rm -f "$VENVS/$name.install.log"
}

mkdir -p "$VENVS"

# rotel-agent is linked against libpython3.11.so.1.0 (Debian's package provides it).
# (grep reads all of ldconfig's output: with `grep -q`, pipefail could report ldconfig's SIGPIPE.)
if ! ldconfig -p | grep libpython3.11 >/dev/null; then
    apt-get update
    apt-get install -y libpython3.11
fi

# The three installs are independent: run them side by side (the fresh setup is network- and
# unpack-bound, about 850 MB each for Phoenix and MLflow).
pids=()
make_venv phoenix bin/phoenix "arize-phoenix>=20,<21" &
pids+=($!)
make_venv mlflow bin/mlflow "mlflow>=3.5,<4" &
pids+=($!)
make_venv rotel lib/python3.11/site-packages/rotel/rotel-agent "rotel>=0.0.1a15,<0.1" &
pids+=($!)
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
[ "$failed" = 0 ] || exit 1

version_of() { # version_of VENV DISTRIBUTION
    "$VENVS/$1/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2"
}
echo "phoenix: arize-phoenix $(version_of phoenix arize-phoenix) at $VENVS/phoenix/bin/phoenix"
echo "mlflow:  mlflow $(version_of mlflow mlflow) at $VENVS/mlflow/bin/mlflow"
echo "rotel:   rotel $(version_of rotel rotel) at $VENVS/rotel/lib/python3.11/site-packages/rotel/rotel-agent"
