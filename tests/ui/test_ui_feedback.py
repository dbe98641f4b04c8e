"""The viewer's feedback: read-only by default; with allow_feedback, a guarded POST.

Over real HTTP against ``start_server``: the token, the Host and Origin checks, JSON only,
and the feedback in the store afterwards (and in the Traces page's rows).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceReader
from genai_trace.ui import RunningViewer, start_server


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "traces.db"
    store = SQLiteTraceStore(db, retention=None)
    genai_trace.configure(exporters=[store])
    with genai_trace.start_span("answer") as span:
        pass
    assert genai_trace.flush(10)
    genai_trace.configure(exporters=[])
    return db, span.trace_id


@pytest.fixture
def writable(stored: tuple[Path, str]) -> Iterator[RunningViewer]:
    viewer = start_server(stored[0], allow_feedback=True)
    yield viewer
    viewer.stop()


def call(
    viewer: RunningViewer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", viewer.server.port, timeout=10)
    try:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def good_headers(viewer: RunningViewer, token: str) -> dict[str, str]:
    host = f"127.0.0.1:{viewer.server.port}"
    return {
        "Host": host,
        "Origin": f"http://{host}",
        "Content-Type": "application/json",
        "X-CSRF-Token": token,
    }


def test_the_viewer_is_read_only_without_the_flag(stored: tuple[Path, str]) -> None:
    db, trace_id = stored
    viewer = start_server(db)
    try:
        assert call(viewer, "GET", "/api/config") == (
            200,
            {"allow_feedback": False, "csrf_token": None},
        )
        status, body = call(
            viewer,
            "POST",
            f"/api/traces/{trace_id}/feedback",
            {"value": True},
            {"Content-Type": "application/json"},
        )
        assert (status, body) == (
            405,
            {"error": "method POST not allowed: the viewer is read-only"},
        )
    finally:
        viewer.stop()
    assert TraceReader(db).get_feedback(trace_id) == []


def test_feedback_is_recorded_with_the_token_from_the_page(
    writable: RunningViewer, stored: tuple[Path, str]
) -> None:
    db, trace_id = stored
    status, config = call(writable, "GET", "/api/config")
    assert status == 200 and config["allow_feedback"] is True
    token = config["csrf_token"]
    path = f"/api/traces/{trace_id}/feedback"
    status, body = call(
        writable,
        "POST",
        path,
        {"value": False, "comment": " wrong city sk-proj-abcdefghijklmnopqrstuvwx "},
        good_headers(writable, token),
    )
    assert status == 200, body
    assert (body["feedback"]["name"], body["feedback"]["value"]) == ("thumbs", False)
    (stored_feedback,) = TraceReader(db).get_feedback(trace_id)
    assert (stored_feedback.value, stored_feedback.rationale, stored_feedback.source.type) == (
        False,
        "wrong city [REDACTED:api_key]",
        "HUMAN",
    )
    status, page = call(writable, "GET", "/api/traces")
    assert [f["value"] for f in page["traces"][0]["feedback"]] == [False]
    status, whole = call(writable, "GET", f"/api/traces/{trace_id}")
    assert [f["rationale"] for f in whole["feedback"]] == ["wrong city [REDACTED:api_key]"]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"X-CSRF-Token": "guessed"}, 403, "CSRF token"),
        ({"X-CSRF-Token": ""}, 403, "CSRF token"),
        ({"Host": "evil.example:80"}, 403, "Host"),
        ({"Origin": "http://evil.example"}, 403, "another site"),
        ({"Content-Type": "text/plain"}, 415, "application/json"),
    ],
)
def test_a_request_that_is_not_the_pages_own_is_refused(
    writable: RunningViewer,
    stored: tuple[Path, str],
    change: dict[str, str],
    status: int,
    error: str,
) -> None:
    db, trace_id = stored
    token = call(writable, "GET", "/api/config")[1]["csrf_token"]
    headers = {**good_headers(writable, token), **change}
    got, body = call(writable, "POST", f"/api/traces/{trace_id}/feedback", {"value": True}, headers)
    assert got == status and error in body["error"]
    assert TraceReader(db).get_feedback(trace_id) == []


def test_bad_bodies_and_unknown_traces_get_a_clear_error(
    writable: RunningViewer, stored: tuple[Path, str]
) -> None:
    db, trace_id = stored
    headers = good_headers(writable, call(writable, "GET", "/api/config")[1]["csrf_token"])
    path = f"/api/traces/{trace_id}/feedback"
    assert call(writable, "POST", path, b"{not json", headers) == (
        400,
        {"error": "the body is not JSON"},
    )
    status, body = call(writable, "POST", path, {"value": "yes"}, headers)
    assert status == 400 and "true or false" in body["error"]
    status, body = call(writable, "POST", path, {"value": True, "comment": "x" * 1001}, headers)
    assert status == 400 and "at most 1000" in body["error"]
    status, body = call(
        writable, "POST", f"/api/traces/{'f' * 32}/feedback", {"value": True}, headers
    )
    assert status == 404 and "no trace" in body["error"]
    status, body = call(writable, "POST", "/api/traces", {"value": True}, headers)
    assert status == 404
    assert TraceReader(db).get_feedback(trace_id) == []
