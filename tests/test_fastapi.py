"""Adding genai-trace to a FastAPI app that already exports with its own OTel provider.

Runs ``helpers/apps/fastapi_own_provider.py`` in a subprocess (a process has one global
provider, and the test session's is already set): uvicorn on 127.0.0.1, real HTTP requests, the real
opentelemetry-instrumentation-fastapi and the official OpenAI instrumentation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers.paths import APPS

pytestmark = pytest.mark.slow  # a uvicorn app in its own interpreter

SCRIPT = APPS / "fastapi_own_provider.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {**os.environ, "GENAI_TRACE_RAISE_INTERNAL_ERRORS": "1"}
    env.pop("OPENAI_BASE_URL", None)
    completed = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path_factory.mktemp("fastapi"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_the_requests_are_served(run: dict[str, Any]) -> None:
    assert run["responses"] == [{"answer": "You said: Is this traced?"}, {"status": "ok"}]


def test_genai_trace_joins_the_apps_provider_instead_of_adding_one(run: dict[str, Any]) -> None:
    assert run["global_provider_is_the_apps"] is True
    assert run["genai_trace_uses_the_apps_provider"] is True
    assert run["genai_trace_owns_a_provider"] is False


def test_the_request_span_is_the_root_with_our_genai_spans_under_it(run: dict[str, Any]) -> None:
    (trace,) = run["traces"]  # /health holds no GenAI span: left to the app's exporter
    by_id = {s["span_id"]: s["name"] for s in trace["spans"]}
    assert [
        (s["depth"], s["name"], s["span_type"], by_id.get(s["parent_id"])) for s in trace["spans"]
    ] == [
        (0, "POST /ask", "UNKNOWN", None),
        (1, "POST /ask http receive", "UNKNOWN", "POST /ask"),
        (1, "answer", "CHAIN", "POST /ask"),
        (2, "chat gpt-4o-mini", "CHAT_MODEL", "answer"),
        (1, "POST /ask http send", "UNKNOWN", "POST /ask"),
        (1, "POST /ask http send", "UNKNOWN", "POST /ask"),
    ]
    chat = trace["spans"][3]
    assert chat["model"] == "gpt-4o-mini"
    assert chat["inputs"] == [
        {"role": "user", "parts": [{"content": "Is this traced?", "type": "text"}], "name": None}
    ]
    assert trace["info"] == {
        "name": "POST /ask",
        "state": "OK",
        "request_preview": "Is this traced?",
        "response_preview": "You said: Is this traced?",
        "token_usage": [3, 5, 8],
    }


def test_the_apps_own_exporter_gets_every_span_once(run: dict[str, Any]) -> None:
    app_spans = run["app_spans"]
    ids = [s["span_id"] for s in app_spans]
    assert len(ids) == len(set(ids))  # no duplicates
    (trace,) = run["traces"]
    ask_trace_id = next(s["trace_id"] for s in app_spans if s["name"] == "POST /ask")
    in_ask_trace = {s["span_id"] for s in app_spans if s["trace_id"] == ask_trace_id}
    assert in_ask_trace == {s["span_id"] for s in trace["spans"]}
    others = sorted(s["name"] for s in app_spans if s["trace_id"] != ask_trace_id)
    assert others == ["GET /health", "GET /health http send", "GET /health http send"]
