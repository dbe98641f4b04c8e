"""The viewer's JSON API on its own: real server on 127.0.0.1, store seeded by traced code."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader
from genai_trace.store.reader import Cursor
from genai_trace.ui import RunningViewer, serve, start_server
from tests.helpers.apps.stored_rag import fill
from tests.helpers.sqlite import connect

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
LOOKUP = '{"id":7}'


@genai_trace.trace(span_type=SpanType.LLM)
def echo(prompt: str) -> str:
    return f"echo:{prompt}"


def seed(store: SQLiteTraceStore) -> None:
    fill(store)  # rag alpha, beta (session s-1, ada), fail (s-2, bob, ERROR), plain
    genai_trace.configure(exporters=[store])
    with genai_trace.start_span("lookup", inputs={"id": 7}) as span:
        genai_trace.update_current_trace(client_request_id="req-7")
        span.set_outputs({"found": True})
    echo(XSS)
    assert genai_trace.flush(10)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "traces.db"
    store = SQLiteTraceStore(path)
    seed(store)
    store.shutdown()
    return path


@pytest.fixture(scope="module")
def viewer(db: Path) -> Iterator[RunningViewer]:
    running = start_server(SQLiteTraceStore(db))
    yield running
    running.stop()


def request(
    viewer: RunningViewer,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", viewer.server.port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(viewer: RunningViewer, path: str, status: int = 200) -> Any:
    code, headers, body = request(viewer, path)
    assert code == status, body
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(body)


def previews(rows: list[dict[str, Any]]) -> list[str | None]:
    return [row["request_preview"] for row in rows]


def test_traces_are_listed_newest_first_with_their_previews(
    viewer: RunningViewer, db: Path
) -> None:
    page = get_json(viewer, "/api/traces")
    store = SQLiteTraceStore(db)
    infos = store.search()
    assert [row["trace_id"] for row in page["traces"]] == [i.trace_id for i in infos]
    assert previews(page["traces"]) == [XSS, LOOKUP, "hello 100%_done", "fail", "beta", "alpha"]
    assert [row["response_preview"] for row in page["traces"]] == [
        i.response_preview for i in infos
    ]
    alpha = page["traces"][-1]
    assert (alpha["name"], alpha["state"], alpha["session_id"], alpha["user_id"]) == (
        "rag",
        "OK",
        "s-1",
        "ada",
    )
    assert alpha["tags"] == {"q": "alpha"}
    assert alpha["token_usage"] == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert page["total"] == 6 and page["next"] is None
    assert page["latest_seq"] == max(row["seq"] for row in page["traces"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=ERROR", ["fail"]),
        ("state=OK&name=rag", ["beta", "alpha"]),
        ("tag=q%3Dbeta", ["beta"]),
        ("tag=q", ["fail", "beta", "alpha"]),
        ("tag=env%3Dprod&tag=q%3Dfail", ["fail"]),
        ("session=s-1", ["beta", "alpha"]),
        ("user=bob", ["fail"]),
        ("text=ALPHA", ["alpha"]),
        ("text=100%25_", ["hello 100%_done"]),  # LIKE wildcards are matched literally
        ("text=%3Cscript", [XSS]),
        ("span_type=RETRIEVER&session=s-1", ["beta", "alpha"]),
        ("state=", [XSS, LOOKUP, "hello 100%_done", "fail", "beta", "alpha"]),  # empty: no filter
        ("name=nothing", []),
        ("since=7d&state=ERROR", ["fail"]),  # seeded just now: inside every range
    ],
)
def test_filters(viewer: RunningViewer, query: str, expected: list[str]) -> None:
    page = get_json(viewer, f"/api/traces?{query}")
    assert previews(page["traces"]) == expected
    assert page["total"] == len(expected)


def test_search_text_finds_a_trace_by_its_id(viewer: RunningViewer, db: Path) -> None:
    info = SQLiteTraceStore(db).search()[3]
    page = get_json(viewer, f"/api/traces?text={info.trace_id}")
    assert [row["trace_id"] for row in page["traces"]] == [info.trace_id]


def test_keyset_pages_cover_every_trace_once(viewer: RunningViewer) -> None:
    seen: list[str | None] = []
    before = ""
    for _ in range(10):
        page = get_json(viewer, f"/api/traces?limit=4&before={before}")
        seen.extend(previews(page["traces"]))
        assert (page["total"] is None) == bool(before)  # counted for the first page only
        if page["next"] is None:
            break
        before = page["next"]
    assert seen[:4] == [XSS, LOOKUP, "hello 100%_done", "fail"]
    assert seen == [XSS, LOOKUP, "hello 100%_done", "fail", "beta", "alpha"]


def test_one_whole_trace_by_id_or_client_request_id(viewer: RunningViewer, db: Path) -> None:
    store = SQLiteTraceStore(db)
    info = store.search(TraceQuery(state="ERROR"))[0]
    data = get_json(viewer, f"/api/traces/{info.trace_id}")
    stored = store.get(info.trace_id)
    assert stored is not None
    assert data == json.loads(json.dumps(stored.to_dict()))
    assert [(s["name"], s["span_type"], s["status"]) for s in data["spans"]] == [
        ("rag", "CHAIN", "ERROR"),
        ("retrieve", "RETRIEVER", "UNSET"),
        ("generate", "LLM", "ERROR"),
    ]
    (event,) = data["spans"][2]["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "RuntimeError"
    assert "model overloaded" in event["attributes"]["exception.stacktrace"]
    by_request_id = get_json(viewer, "/api/traces/req-7")
    assert by_request_id["info"]["name"] == "lookup"
    assert by_request_id["spans"][0]["outputs"] == {"found": True}


def test_sessions_in_order(viewer: RunningViewer) -> None:
    sessions = get_json(viewer, "/api/sessions")["sessions"]
    assert [(s["session_id"], s["traces"], s["errors"], s["user_ids"]) for s in sessions] == [
        ("s-2", 1, 1, ["bob"]),
        ("s-1", 2, 0, ["ada"]),
    ]
    assert sessions[1]["total_tokens"] == 15 + 14
    assert [s["session_id"] for s in get_json(viewer, "/api/sessions?user=ada")["sessions"]] == [
        "s-1"
    ]
    session = get_json(viewer, "/api/sessions/s-1")
    assert previews(session["traces"]) == ["alpha", "beta"]  # oldest first: a conversation
    assert [t["response_preview"] for t in session["traces"]] == ["answer:alpha", "answer:beta"]
    assert (session["total"], session["truncated"]) == (2, False)
    first = get_json(viewer, "/api/sessions/s-1?limit=1")
    assert previews(first["traces"]) == ["alpha"] and first["truncated"] is True


def test_stats(viewer: RunningViewer, db: Path) -> None:
    stats = get_json(viewer, "/api/stats")
    assert stats["traces"] == 6 and stats["by_state"] == {"ERROR": 1, "OK": 5}
    assert stats["store"] == str(db)
    assert ["rag", 3] in stats["top_names"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/traces?limit=0", 400, "limit must be between 1 and 500, got 0"),
        ("/api/traces?limit=501", 400, "limit must be between 1 and 500"),
        ("/api/traces?limit=ten", 400, "limit must be an integer, got 'ten'"),
        ("/api/traces?limit=1e3", 400, "limit must be an integer"),
        ("/api/traces?limit=" + "9" * 40, 400, "limit must be between 1 and 500"),
        ("/api/traces?limit=1&limit=2", 400, "parameter 'limit' given 2 times"),
        ("/api/traces?state=MAYBE", 400, "state must be one of OK, ERROR, IN_PROGRESS"),
        ("/api/traces?sort=name", 400, "unknown parameter 'sort'"),
        ("/api/traces?before=yesterday", 400, "before must be the 'next' value"),
        ("/api/traces?before=1." + "9" * 30, 400, "before must be the 'next' value"),
        ("/api/traces?before=9999999999999999999.1", 400, "before is out of range"),
        ("/api/traces?tag=%3Dv", 400, "tag must be KEY or KEY=VALUE"),
        ("/api/traces?text=" + "x" * 1001, 400, "text is too long"),
        ("/api/traces?name=a%00b", 400, "name contains a NUL character"),
        ("/api/traces/changes?after_seq=-1", 400, "after_seq must be between 0 and"),
        ("/api/traces/changes?after_seq=99999999999999999999", 400, "after_seq must be between"),
        ("/api/traces/changes", 200, None),
        ("/api/traces/" + "0" * 32, 404, "no trace '00000000000000000000000000000000'"),
        ("/api/traces/abc?x=1", 400, "unknown parameter 'x'; this endpoint takes: none"),
        ("/api/traces/a/b/c", 404, "no API endpoint /api/traces/a/b/c"),
        ("/api/sessions/nobody", 404, "no session 'nobody'"),
        ("/api/sessions?limit=-5", 400, "limit must be between 1 and 1000"),
        (
            "/api/traces?since=yesterday",
            400,
            "since must be like 30s, 15m, 2h or 7d, got 'yesterday'",
        ),
        ("/api/stats?verbose=1", 400, "unknown parameter 'verbose'"),
        ("/api/nothing", 404, "no API endpoint /api/nothing"),
        ("/api/traces?" + "&".join(f"tag=k{i}" for i in range(21)), 400, "at most 20 tag"),
        ("/api/traces?" + "&".join(f"a{i}=1" for i in range(101)), 400, "bad query string"),
        ("/static/../__init__.py", 404, "no file '../__init__.py'"),
        ("/static/%2e%2e%2f_server.py", 404, "no file '../_server.py'"),
        ("/etc/passwd", 404, "no page at '/etc/passwd'"),
    ],
)
def test_bad_requests_get_a_clear_json_error(
    viewer: RunningViewer, path: str, status: int, message: str | None
) -> None:
    code, headers, body = request(viewer, path)
    assert code == status, body
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert b"Traceback" not in body
    if message is not None:
        assert message in json.loads(body)["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_read_only_other_methods_are_refused(viewer: RunningViewer, method: str) -> None:
    code, headers, body = request(viewer, "/api/traces", method=method)
    assert code == 405 and headers["Allow"] == "GET, HEAD"
    assert json.loads(body) == {"error": f"method {method} not allowed: the viewer is read-only"}


def test_page_static_files_and_security_headers(viewer: RunningViewer) -> None:
    for path, content_type in [
        ("/", "text/html; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/api/stats", "application/json; charset=utf-8"),
    ]:
        code, headers, body = request(viewer, path)
        assert code == 200 and headers["Content-Type"] == content_type, path
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Server"] == "genai-trace-ui"
    code, headers, body = request(viewer, "/", method="HEAD")
    assert code == 200 and body == b"" and int(headers["Content-Length"]) > 0
    page = request(viewer, "/")[2].decode()
    assert "<script>" not in page and "http://" not in page and "https://" not in page


VENDORED = ("uPlot.esm.js", "uPlot.min.css")  # links in their comments only: no fetching code


def test_static_files_fetch_nothing_from_outside(viewer: RunningViewer) -> None:
    for name in viewer.server.assets:
        text = request(viewer, f"/static/{name}")[2].decode(errors="replace")
        needles: tuple[str, ...] = ("//cdn", "@import", "innerHTML", "eval(")
        if name in VENDORED:
            needles = (*needles, "fetch(", "XMLHttpRequest", "import(")
        else:
            needles = ("http://", "https://", *needles)
        for needle in needles:
            assert needle not in text.replace("http://www.w3.org/2000/svg", ""), (name, needle)


def test_a_foreign_host_header_is_refused(viewer: RunningViewer) -> None:
    """DNS rebinding: a page on another site that resolves to 127.0.0.1 reads nothing."""
    port = viewer.server.port
    code, _, body = request(viewer, "/api/traces", headers={"Host": f"evil.example:{port}"})
    assert code == 403 and "unexpected Host header" in json.loads(body)["error"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert request(viewer, "/api/stats", headers={"Host": host})[0] == 200


def test_an_unexpected_failure_is_a_generic_500_and_logged(
    viewer: RunningViewer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(TraceReader, "stats", boom)
    with caplog.at_level(logging.ERROR, logger="genai_trace.ui"):
        code, _, body = request(viewer, "/api/stats")
    assert code == 500
    assert json.loads(body) == {"error": "internal error; the server's log has the details"}
    assert b"secret" not in body and b"Traceback" not in body
    assert "secret internals" in caplog.text


def test_changes_report_new_traces(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "live.db")
    running = start_server(store)
    try:
        empty = get_json(running, "/api/traces")
        assert empty == {"traces": [], "next": None, "latest_seq": 0, "total": 0}
        assert get_json(running, "/api/stats")["traces"] == 0
        seed(store)
        latest = get_json(running, "/api/traces")["latest_seq"]
        assert get_json(running, f"/api/traces/changes?after_seq={latest}")["traces"] == []
        genai_trace.configure(exporters=[store])
        echo("fresh one")
        echo("other")
        assert genai_trace.flush(10)
        changes = get_json(running, f"/api/traces/changes?after_seq={latest}&text=fresh")
        assert previews(changes["traces"]) == ["fresh one"]
        assert changes["latest_seq"] == latest + 2 and changes["more"] is False
        limited = get_json(running, f"/api/traces/changes?after_seq={latest}&limit=1")
        assert len(limited["traces"]) == 1 and limited["more"] is True
    finally:
        running.stop()


def test_an_unreadable_store_is_a_503_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 100)
    running = start_server(path)
    try:
        for endpoint in ("/api/traces", "/api/stats", "/api/traces/" + "a" * 32):
            code, _, body = request(running, endpoint)
            assert code == 503, endpoint
            assert "cannot read the trace store" in json.loads(body)["error"]
    finally:
        running.stop()


@pytest.mark.slow
def test_a_store_of_100000_traces_is_paged_by_index(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    store = SQLiteTraceStore(db)
    fill(store)
    store.shutdown()
    with connect(db) as connection:
        (template,) = connection.execute("SELECT info FROM traces LIMIT 1").fetchone()
        base = json.loads(template)
        (newest,) = connection.execute("SELECT max(start_ns) FROM traces").fetchone()
        base["start_time_ns"] = newest + 1  # the bulk traces are the newest
        rows = []
        for i in range(100_000):
            info = dict(base, trace_id=f"{i:032x}", start_time_ns=base["start_time_ns"] + i)
            info["request_preview"] = f"q{i}"
            state = "ERROR" if i % 1000 == 0 else "OK"
            rows.append(
                (info["trace_id"], "bulk", state, info["start_time_ns"], f"q{i}", json.dumps(info))
            )
        connection.executemany(
            "INSERT INTO traces (trace_id, name, state, start_ns, duration_ms, request_preview, "
            "span_count, complete, info) VALUES (?, ?, ?, ?, 1.0, ?, 1, 1, ?)",
            rows,
        )  # fmt: skip
    running = start_server(db)
    try:
        started = time.monotonic()
        first = get_json(running, "/api/traces?limit=50")
        assert first["total"] == 100_004
        assert previews(first["traces"])[:2] == ["q99999", "q99998"]
        seen = previews(first["traces"])
        before = first["next"]
        for _ in range(3):
            page = get_json(running, f"/api/traces?limit=50&before={before}")
            seen.extend(previews(page["traces"]))
            before = page["next"]
        assert seen == [f"q{i}" for i in range(99_999, 99_799, -1)]
        errors = get_json(running, "/api/traces?state=ERROR&limit=500")
        assert len(errors["traces"]) == 100 + 1 and errors["next"] is None
        assert time.monotonic() - started < 30
    finally:
        running.stop()
    reader = TraceReader(db)
    for filters, cursor in [
        (TraceQuery(), None),
        (TraceQuery(), Cursor(base["start_time_ns"] + 500, 400)),
        (TraceQuery(state="ERROR"), Cursor(base["start_time_ns"] + 500, 400)),
        (TraceQuery(session_id="s-1"), None),
        (TraceQuery(user_id="ada"), None),
    ]:
        plan = " | ".join(reader.page_plan(filters, 50, cursor))
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan


# --- serve() and the command ---------------------------------------------------------


def test_serve_refuses_a_remote_host_without_the_flag(db: Path) -> None:
    with pytest.raises(ValueError, match=r"refusing to serve on 0\.0\.0\.0.*--allow-remote"):
        serve(SQLiteTraceStore(db), host="0.0.0.0", port=0)
    with pytest.raises(ValueError, match="port must be 0"):
        serve(SQLiteTraceStore(db), port=70000)


def test_serve_says_when_the_port_is_taken(db: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ValueError, match=r"cannot listen on 127\.0\.0\.1:\d+.*--port 0"):
            start_server(db, port=taken.getsockname()[1])


def test_serve_with_allow_remote_warns(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warning path, without opening a port beyond 127.0.0.1 during the tests."""
    import genai_trace.ui as ui

    real = ui.ViewerServer

    def loopback_only(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        server = real(("127.0.0.1", 0), *args, **kwargs)

        def interrupted(poll_interval: float = 0.5) -> None:
            raise KeyboardInterrupt

        server.serve_forever = interrupted  # type: ignore[method-assign]
        return server

    monkeypatch.setattr(ui, "ViewerServer", loopback_only)
    assert serve(SQLiteTraceStore(db), host="0.0.0.0", port=0, allow_remote=True) == 0
    captured = capsys.readouterr()
    assert "WARNING: serving on 0.0.0.0, not 127.0.0.1" in captured.err
    assert "no authentication" in captured.err
    assert "genai-trace ui: serving" in captured.out and "http://127.0.0.1:" in captured.out


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_ui_command_prints_its_url_and_serves_until_interrupted(db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GENAI_TRACE_DB"}
    process = subprocess.Popen(
        [sys.executable, "-m", "genai_trace.cli", "--db", str(db), "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A shell runs background jobs with SIGINT ignored, and children inherit that: give
        # the child Ctrl-C back, or a suite started with `&` would wait here for nothing.
        preexec_fn=_interruptible,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded: the process prints it at once or exits
        assert line.startswith(f"genai-trace ui: serving {db} at http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1].strip()
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/traces?limit=1&text=" + quote("alpha"))
        assert json.loads(connection.getresponse().read())["traces"][0]["request_preview"] == (
            "alpha"
        )
        connection.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.communicate(timeout=20)


def test_the_ui_command_refuses_a_remote_host(db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", "--db", str(db), "ui", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr and "Traceback" not in result.stderr
