#!/usr/bin/env bash
# Installs as users make them: for each Python we support, a fresh venv with the pip that
# `python -m venv` bundles (never upgraded), no constraints file, the project from this
# checkout; then `pip check`, the quickstart, a thread fan-out (one trace) and autolog against
# the local OpenAI-compatible server (and, with every extra, the stored quickstart through
# to_pandas()). One more row pins the lowest OpenTelemetry we declare.
# Rows run in parallel; prints a summary and exits 1 when any row failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
FLOOR=1.45.0 # the lowest opentelemetry-api/-sdk/-exporter-* in pyproject.toml
# Not llama-index (~110 MB more: numpy, nltk, SQLAlchemy) nor dspy (~240 MB more: litellm,
# tokenizers, huggingface-hub); the dev install tests both.
ALL_EXTRAS=grpc,openai,anthropic,langchain,openai-agents,google-genai,bedrock,fastapi,mcp,pandas
work=$(mktemp -d "${TMPDIR:-/tmp}/genai-trace-installs.XXXXXX")
trap 'rm -rf "$work"' EXIT

find_python() { # the interpreter for version $1 (3.12), from pyenv or PATH
    local found
    found=$(ls -d "$HOME"/.pyenv/versions/"$1".*/bin/python 2>/dev/null | sort -V | tail -1)
    [ -n "$found" ] || found=$(command -v "python$1" || true)
    [ -n "$found" ] && echo "$found"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

smoke() { # the user's path in venv $1: quickstart, thread fan-out, autolog
    local py=$1/bin/python run="$1/run"
    mkdir -p "$run"
    (cd "$run" && "$py" "$root/examples/quickstart.py") >"$run/quickstart.out" 2>&1 ||
        fail "examples/quickstart.py: $(tail -3 "$run/quickstart.out")"
    grep -q "state=OK" "$run/quickstart.out" || fail "quickstart printed no OK trace"
    (cd "$run" && "$1/bin/genai-trace" list) | grep -q "answer" ||
        fail "genai-trace list shows no stored quickstart trace"
    (cd "$run" && "$py" "$root/tests/helpers/install_smoke/thread_fanout.py" --check) ||
        fail "thread fan-out is not one trace"
    (cd "$run" && "$py" "$root/tests/helpers/install_smoke/autolog_openai.py") ||
        fail "autolog: the chat span is not under the @trace span"
}

install() { # venv $1: pip install the rest of the arguments, then pip check
    local venv=$1
    shift
    "$venv/bin/python" -m pip install --quiet "$@" 2>&1 | grep -v "^WARNING: Location" >&2
    [ "${PIPESTATUS[0]}" = 0 ] || fail "pip install $*"
    "$venv/bin/python" -m pip check >&2 || fail "pip check after pip install $*"
}

versions() { # the OpenTelemetry packages a venv got, on one line
    "$1/bin/python" -m pip list 2>/dev/null |
        awk '/^opentelemetry-(sdk|instrumentation-genai-openai) /{printf "%s %s  ", $1, $2}'
}

newest_sdk() { # the newest opentelemetry-sdk on the index, or nothing when it cannot say
    "$1/bin/python" -m pip index versions opentelemetry-sdk 2>/dev/null |
        sed -n 's/^opentelemetry-sdk (\(.*\))$/\1/p'
}

row() { # row NAME PYTHON-VERSION: one fresh venv, as named below
    local name=$1 version=$2 python venv="$work/$1" wheel
    python=$(find_python "$version") || fail "Python $version not found (pyenv or python$version)"
    "$python" -m venv "$venv" || fail "python$version -m venv"
    wheel=$(ls "$work"/wheel/genai_trace-*.whl)
    case $name in
    base-then-openai) # the README's install, then an extra added later
        install "$venv" "$wheel"
        local said
        said=$("$venv/bin/python" -c 'import genai_trace; genai_trace.configure(
            otlp_endpoint="http://127.0.0.1:4317", otlp_protocol="grpc")' 2>&1)
        [[ $said == *'pip install "genai-trace[grpc]"'* ]] ||
            fail "gRPC without the grpc extra does not name the extra: $said"
        install "$venv" "$wheel[openai]"
        ;;
    all-extras) install "$venv" "$wheel[$ALL_EXTRAS]" ;;
    lowest-otel)
        install "$venv" "$wheel[openai,grpc]" "opentelemetry-api==$FLOOR" \
            "opentelemetry-sdk==$FLOOR" "opentelemetry-exporter-otlp-proto-http==$FLOOR" \
            "opentelemetry-exporter-otlp-proto-grpc==$FLOOR"
        ;;
    *) install "$venv" "$wheel[openai]" ;;
    esac
    local got newest
    got=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("opentelemetry-sdk"))')
    if [ "$name" = lowest-otel ]; then
        [ "$got" = "$FLOOR" ] || fail "got opentelemetry-sdk $got, not $FLOOR"
    else
        newest=$(newest_sdk "$venv")
        [ -z "$newest" ] || [ "$got" = "$newest" ] ||
            fail "got opentelemetry-sdk $got, not the newest ($newest)"
    fi
    smoke "$venv"
    if [ "$name" = all-extras ]; then # the pandas extra: the stored quickstart as a DataFrame
        (cd "$venv/run" && "$venv/bin/python" -c 'import genai_trace
frame = genai_trace.search_traces().to_pandas()
assert list(frame["name"]) == ["answer"], frame') || fail "search_traces().to_pandas()"
    fi
    echo "pip $("$venv/bin/python" -m pip --version | cut -d' ' -f2)  $(versions "$venv")"
}

started=$SECONDS
mkdir -p "$work/wheel"
builder=$(find_python 3.12) || { echo "FAIL: Python 3.12 not found" >&2; exit 1; }
"$builder" -m venv "$work/builder" &&
    "$work/builder/bin/python" -m pip wheel --quiet --no-deps -w "$work/wheel" "$root" \
        2>&1 | grep -v "^WARNING: Location"

rows=("base-then-openai 3.10" "openai 3.11" "openai 3.12" "all-extras 3.13" "lowest-otel 3.10")
for spec in "${rows[@]}"; do
    set -- $spec
    ( (row "$1" "$2") >"$work/$1.log" 2>&1; echo $? >"$work/$1.rc") &
done
wait

status=0
echo "== fresh installs (${SECONDS}s, bundled pip, no constraints, lowest OTel $FLOOR)"
for spec in "${rows[@]}"; do
    set -- $spec
    if [ "$(cat "$work/$1.rc")" = 0 ]; then
        printf 'ok    %-17s python %s  %s\n' "$1" "$2" "$(tail -1 "$work/$1.log")"
    else
        status=1
        printf 'FAIL  %-17s python %s\n' "$1" "$2"
        sed 's/^/        /' "$work/$1.log" | tail -25
    fi
done
exit $status
