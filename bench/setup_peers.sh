#!/usr/bin/env bash
# One virtualenv per peer library for `python -m bench`: .ci/venvs/peer-<name> (git-ignored).
#
# Each peer gets its own venv so no peer can change another's (or genai-trace's)
# OpenTelemetry version; each also gets the official OTLP/HTTP exporter, which every peer
# row uses to ship to the bench's receiver. Unpinned on purpose: the table records the
# versions it measured. Usage: bash bench/setup_peers.sh [PYTHON] [PEER...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
shift || true
PEERS=("$@")
[ ${#PEERS[@]} -gt 0 ] || PEERS=(openinference logfire langfuse mlflow)

packages_of() {
    case "$1" in
        openinference) echo "openinference-instrumentation opentelemetry-sdk" ;;
        logfire) echo "logfire" ;;
        langfuse) echo "langfuse" ;;
        mlflow) echo "mlflow-tracing" ;;
        *) echo "unknown peer: $1" >&2; return 1 ;;
    esac
}

for peer in "${PEERS[@]}"; do
    venv=".ci/venvs/peer-$peer"
    packages=$(packages_of "$peer")
    echo "== $peer -> $venv ($packages)"
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    # opentelemetry-proto is what the bench's receiver decodes with; the exporter is
    # the official OTLP/HTTP one, the same the floor row uses.
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $packages \
        opentelemetry-exporter-otlp-proto-http
done
