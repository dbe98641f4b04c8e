"""Every example runs in one command, as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import EXAMPLES

pytestmark = pytest.mark.slow  # each example runs in its own interpreter


def run_example(name: str, cwd: Path, **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env={**offline_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_quickstart(tmp_path: Path) -> None:
    out = run_example("quickstart.py", tmp_path)
    lines = out.splitlines()
    assert (
        lines[0]
        == "In short: OTLP is the OpenTelemetry protocol for sending traces, metrics and logs."
    )
    assert "request:  What is otlp ?" in lines
    assert "tokens:   TokenUsage(input_tokens=13, output_tokens=13, total_tokens=26)" in lines
    tree = [
        line.split(" ms")[0].rsplit(" ", 1)[0] for line in lines if line.lstrip().startswith("- ")
    ]
    assert tree == ["- answer [CHAIN]", "  - retrieve [RETRIEVER]", "  - chat [CHAT_MODEL]"]
    assert lines[-1] == "stored in .genai_trace/traces.db; read it with: genai-trace show --last"


def test_quickstart_names_the_store_genai_trace_db_chose(tmp_path: Path) -> None:
    store = tmp_path / "elsewhere" / "mine.db"
    out = run_example("quickstart.py", tmp_path, GENAI_TRACE_DB=str(store))
    assert out.splitlines()[-1] == f"stored in {store}; read it with: genai-trace show --last"
    assert store.exists() and not (tmp_path / ".genai_trace").exists()


def tree_lines(out: str) -> list[str]:
    """The span tree an example prints, without the per-span details after ``]``."""
    return [line.split("]")[0] + "]" for line in out.splitlines() if line.lstrip().startswith("- ")]


def offline_env() -> dict[str, str]:
    """The examples' offline default: no OpenAI endpoint and no OTLP endpoint configured."""
    env = dict(os.environ)
    for key in (
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "GENAI_TRACE_DB",
    ):
        env.pop(key, None)
    return env


def test_rag_pipeline(tmp_path: Path) -> None:
    lines = run_example("rag_pipeline.py", tmp_path).splitlines()
    assert lines[0] == "You said: What is OTLP?"
    assert "request:  [rag] What is OTLP?" in lines  # the custom request preview
    assert "tokens:   TokenUsage(input_tokens=36, output_tokens=5, total_tokens=41)" in lines
    assert tree_lines("\n".join(lines)) == [
        "- answer [CHAIN]",
        "  - embeddings text-embedding-3-small [EMBEDDING]",
        "  - retrieve [RETRIEVER]",
        "  - chat gpt-4o-mini [CHAT_MODEL]",
    ]


def test_agent_with_tools_on_threads_and_asyncio(tmp_path: Path) -> None:
    out = run_example("agent_tools.py", tmp_path)
    tree = tree_lines(out)
    assert tree[0] == "- travel_agent [AGENT]"
    assert tree[1] == tree[-1] == "  - chat gpt-4o-mini [CHAT_MODEL]"
    assert sorted(tree[2:-1]) == ["  - get_population [TOOL]"] * 2 + ["  - get_weather [TOOL]"] * 2
    assert "tokens:   TokenUsage(input_tokens=29, output_tokens=20, total_tokens=49)" in out


def test_streaming_chat(tmp_path: Path) -> None:
    out = run_example("streaming_chat.py", tmp_path)
    lines = out.splitlines()
    assert lines[0] == "You said: Tell me about streaming traces"
    assert [line.removesuffix(" first-token=yes") for line in lines if "first-token" in line] == [
        "- stream_reply [CHAIN]",
        "  - chat gpt-4o-mini [CHAT_MODEL] model=gpt-4o-mini tokens=5+7",
    ]
    assert "stream_reply: output='You said: Tell me about streaming traces'" in out


def test_client_workflow(tmp_path: Path) -> None:
    out = run_example("client_workflow.py", tmp_path)
    assert tree_lines(out) == [
        "- support_workflow [CHAIN]",
        "  - search_docs [RETRIEVER]",
        "  - draft_answer [LLM]",
    ]
    assert "found by client_request_id: True" in out.splitlines()


def test_otlp_export(tmp_path: Path) -> None:
    out = run_example("otlp_export.py", tmp_path)
    assert out.splitlines()[1:] == [
        "received from service otlp-example:",
        "  answer [CHAIN]",
        "  retrieve [RETRIEVER]",
        "  chat gpt-4o-mini [LLM] input_tokens=12",
    ]


def test_fastapi_app(tmp_path: Path) -> None:
    out = run_example("fastapi_app.py", tmp_path)
    assert tree_lines(out) == [
        "- POST /ask [UNKNOWN]",
        "  - POST /ask http receive [UNKNOWN]",
        "  - answer [CHAIN]",
        "    - chat gpt-4o-mini [CHAT_MODEL]",
        "  - POST /ask http send [UNKNOWN]",
        "  - POST /ask http send [UNKNOWN]",
    ]
    assert "the app's own exporter got 9 spans, 9 distinct" in out
    assert "one provider: True" in out
