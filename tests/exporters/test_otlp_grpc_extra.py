"""gRPC is an extra: without it, asking for gRPC says which extra to install.

Each case runs in a fresh process where ``grpc`` cannot be imported, as in an install
without ``genai-trace[grpc]`` (scripts/check_installs.sh checks a real one too).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

HINT = 'OTLP over gRPC needs the grpc extra: pip install "genai-trace[grpc]"'
WITHOUT_GRPC = "import sys; sys.modules['grpc'] = None\n"


def run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_TRACE"))}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_GRPC + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**clean, "GENAI_TRACE_DB": str(tmp_path / "traces.db"), **env},
        check=False,
    )


def test_configuring_grpc_explicitly_raises_an_import_error_naming_the_extra(
    tmp_path: Path,
) -> None:
    result = run(
        """
        import genai_trace
        try:
            genai_trace.configure(otlp_endpoint="http://127.0.0.1:4317", otlp_protocol="grpc")
        except ImportError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert (result.stdout, result.stderr) == (HINT + "\n", "")


def test_grpc_from_the_environment_warns_once_and_the_local_store_still_gets_traces(
    tmp_path: Path,
) -> None:
    result = run(
        """
        import genai_trace

        @genai_trace.trace
        def step(i: int) -> int:
            return i

        for i in range(3):
            step(i)
        genai_trace.flush(10)
        print(len(genai_trace.search_traces()))
        """,
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
    )
    assert result.stdout == "3\n"
    assert result.stderr == f"genai_trace: {HINT}; traces are not sent over OTLP\n"
