"""``genai-trace feedback`` and the feedback in ``show``, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceReader
from tests.test_cli import cli


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "traces.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db, retention=None)])
    with genai_trace.start_span("answer") as span:
        genai_trace.update_current_trace(client_request_id="msg-9")
    assert genai_trace.flush(10)
    return db, span.trace_id


@pytest.mark.slow
def test_feedback_is_recorded_and_shown(stored: tuple[Path, str]) -> None:
    db, trace_id = stored
    result = cli(
        "feedback", "msg-9", "thumbs", "false", "--rationale", "wrong city",
        "--source", "human:ada", db=db,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("thumbs = false  (human ada): wrong city  [")
    result = cli("feedback", trace_id, "answer", "Paris", "--expectation", db=db)
    assert result.returncode == 0, result.stderr

    shown = cli("show", trace_id, "--no-io", "--no-color", db=db)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-3:] == [
        "feedback:",
        "  thumbs = false  (human ada): wrong city",
        '  expected answer = "Paris"  (human default)',
    ]
    as_json = json.loads(cli("show", trace_id, "--json", db=db).stdout)
    assert [(f["name"], f["value"], f["kind"]) for f in as_json["feedback"]] == [
        ("thumbs", False, "feedback"),
        ("answer", "Paris", "expectation"),
    ]
    assert [f.value for f in TraceReader(db).get_feedback(trace_id)] == [False, "Paris"]


@pytest.mark.slow
def test_feedback_on_an_unknown_trace_or_with_a_bad_value_fails_clearly(
    stored: tuple[Path, str],
) -> None:
    db, _ = stored
    result = cli("feedback", "msg-nope", "thumbs", "true", db=db)
    assert (result.returncode, result.stderr) == (
        1,
        f"genai-trace: no trace 'msg-nope' in {db}\n",
    )
    result = cli("feedback", "msg-9", "thumbs", "nan", "--source", "robot", db=db)
    assert result.returncode == 2
    assert "Source.type must be one of HUMAN, LLM_JUDGE, CODE" in result.stderr
    assert TraceReader(db).get_feedback("msg-9") == []
