"""The genai-trace command, run as a user runs it: a subprocess against a real store."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceQuery
from tests.helpers.apps.stored_rag import fill
from tests.helpers.reliability.faults import FaultyBackend, Status
from tests.helpers.sqlite import connect


def cli(
    *args: str, db: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GENAI_TRACE_DB"}
    if db is not None:
        env["GENAI_TRACE_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "traces.db"
    fill(SQLiteTraceStore(path))
    return path


def test_list_shows_a_table_of_traces(db: Path) -> None:
    result = cli("list", db=db)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "TIME",
        "NAME",
        "STATE",
        "DURATION",
        "TOKENS",
        "REQUEST",
        "RESPONSE",
    ]
    assert len(lines) == 5
    assert lines[1].split()[2:4] == ["plain", "OK"]
    fail_row = lines[2].split()
    assert fail_row[2:4] == ["rag", "ERROR"]
    alpha_row = lines[4].split()
    assert alpha_row[2:4] == ["rag", "OK"]
    assert alpha_row[5:] == ["ms", "15", "alpha", "answer:alpha"]


def test_list_filters_and_json(db: Path) -> None:
    result = cli("--db", str(db), "list", "--state", "ERROR", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["name"], row["state"], row["request_preview"]) == ("rag", "ERROR", "fail")
    assert row["tags"] == {"env": "prod", "q": "fail"}
    result = cli("list", "--tag", "q=beta", "--span-type", "LLM", "--since", "1h", db=db)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 and "beta" in result.stdout


def test_show_renders_the_span_tree(db: Path) -> None:
    store = SQLiteTraceStore(db)
    info = store.search()[1]  # the failed one
    result = cli("show", info.trace_id, "--no-color", db=db)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("rag  ERROR  ")
    assert f"trace {info.trace_id}" in lines[0]
    tree = [line for line in lines[1:] if line.lstrip("│ ").startswith(("rag ", "├─", "└─"))]
    assert [line.strip().split("  ")[:2] for line in tree] == [
        ["rag", "CHAIN"],
        ["├─ retrieve", "RETRIEVER"],
        ["└─ generate", "LLM"],
    ]
    assert "ERROR RuntimeError: model overloaded" in result.stdout
    assert 'in : {"q": "fail"}' in result.stdout


def test_show_last_json_and_colours(db: Path) -> None:
    result = cli("show", "--last", "--json", db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["info"]["name"] == "plain"
    assert data["spans"][0]["inputs"] == "hello 100%_done"
    coloured = cli("show", "--last", "--color", db=db)
    assert "\033[" in coloured.stdout


def test_a_missing_store_met_in_python_names_the_python_argument(tmp_path: Path) -> None:
    # The CLI's message names its --db flag; the API's names what a caller can pass.
    missing = tmp_path / "nope.db"
    with pytest.raises(genai_trace.TraceStoreError) as raised:
        genai_trace.search_traces(db_path=missing)
    assert str(raised.value) == (
        f"no trace store at {missing}: nothing has been traced there yet "
        "(choose another with db_path= or GENAI_TRACE_DB)"
    )


def test_clear_errors(tmp_path: Path, db: Path) -> None:
    missing = cli("list", db=tmp_path / "nope.db")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr.splitlines() == [
        f"genai-trace: no trace store at {tmp_path / 'nope.db'}: nothing has been traced there "
        "yet (choose another with --db or GENAI_TRACE_DB)"
    ]
    unknown = cli("show", "0" * 32, db=db)
    assert unknown.returncode == 1
    assert "no trace '00000000000000000000000000000000'" in unknown.stderr
    bad_time = cli("list", "--since", "yesterday-ish", db=db)
    assert bad_time.returncode == 2 and "bad time" in bad_time.stderr
    bad_state = cli("list", "--state", "MAYBE", db=db)
    assert bad_state.returncode == 2 and "invalid choice" in bad_state.stderr
    bad_limit = cli("list", "--limit", "-3", db=db)
    assert bad_limit.returncode == 2 and "positive" in bad_limit.stderr


def test_export_jsonl_and_otlp_json(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    result = cli("export", "--output", str(out), "--state", "OK", db=db)
    assert result.returncode == 0, result.stderr
    traces = [json.loads(line) for line in out.read_text().splitlines()]
    assert [t["info"]["request_preview"] for t in traces] == ["hello 100%_done", "beta", "alpha"]
    assert [s["name"] for s in traces[2]["spans"]] == ["rag", "retrieve", "generate"]

    result = cli("export", "--format", "otlp-json", "--name", "rag", "--limit", "1", db=db)
    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [s["name"] for s in spans] == ["rag", "retrieve", "generate"]
    root = spans[0]
    assert len(root["traceId"]) == 32 and len(root["spanId"]) == 16
    assert spans[1]["parentSpanId"] == root["spanId"]
    root_attributes = {a["key"]: a["value"] for a in root["attributes"]}
    assert root_attributes["genai_trace.trace.state"] == {"stringValue": "ERROR"}
    assert root_attributes["genai_trace.trace.request_preview"] == {"stringValue": "fail"}
    assert root["status"]["code"] == 2


def test_stats(db: Path) -> None:
    result = cli("stats", db=db)
    assert result.returncode == 0, result.stderr
    assert "traces:     4 (0 incomplete), spans: 10" in result.stdout
    assert "by state:   ERROR 1, OK 3" in result.stdout
    data = json.loads(cli("stats", "--json", db=db).stdout)
    assert data["by_span_type"]["LLM"] == 3


def test_tail_follows_new_traces(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    tail = subprocess.Popen(
        [sys.executable, "-m", "genai_trace.cli", "--db", str(db), "tail", "--count", "1",
         "--interval", "0.1", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # tail waits for the store to appear
        writer = (
            "import genai_trace\n"
            "from genai_trace.store import SQLiteTraceStore\n"
            f"genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r})])\n"
            "genai_trace.trace(lambda q: q.upper())('live question')\n"
        )
        subprocess.run([sys.executable, "-c", writer], check=True, timeout=60)
        out, err = tail.communicate(timeout=60)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    (line,) = out.splitlines()
    assert "<lambda>" in line and "live question  ->  LIVE QUESTION" in line


@pytest.mark.slow
def test_large_store_lists_by_index_without_reading_it_whole(tmp_path: Path) -> None:
    """100,000 traces: list pages come from the start-time index, not a scan and sort."""
    db = tmp_path / "big.db"
    seed = SQLiteTraceStore(db)
    fill(seed)
    seed.shutdown()
    with connect(db) as connection:
        (start_ns,) = connection.execute("SELECT start_ns FROM traces LIMIT 1").fetchone()
        rows = [
            (f"{i:032x}", "bulk", "OK", start_ns + i, 1.0, f"q{i}", "a", 1, "{}")
            for i in range(100_000)
        ]
        connection.executemany(
            "INSERT INTO traces (trace_id, name, state, start_ns, duration_ms, request_preview, "
            "response_preview, span_count, complete, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            rows,
        )
    listed = cli("list", "--limit", "20", db=db)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 21
    errors = cli("list", "--limit", "20", "--state", "ERROR", db=db)
    assert len(errors.stdout.splitlines()) == 2
    store = SQLiteTraceStore(db)
    for query in (TraceQuery(limit=20), TraceQuery(state="ERROR"), TraceQuery(session_id="s-1")):
        plan = " | ".join(store.query_plan(query))
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan


def test_send_to_an_endpoint_nobody_listens_on_fails_in_one_line(db: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        endpoint = f"http://127.0.0.1:{port}"
        result = cli("send", "--endpoint", endpoint, db=db)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"genai-trace: cannot connect to {endpoint}: ")
    assert result.stderr.count("\n") == 1, result.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error line a user sees: after argparse's usage lines, never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "status", "line"),
    [
        (
            ["export", "-o", "/nonexistent/dir/x.jsonl"],
            1,
            "genai-trace: cannot write /nonexistent/dir/x.jsonl: No such file or directory",
        ),
        (["export", "-o", "/proc/version"], 1, "genai-trace: cannot write /proc/version: "),
        (
            ["list", "--limit", "99999999999999999999999"],
            2,
            "genai-trace list: error: argument --limit: expected at most 9223372036854775807",
        ),
        (
            ["tail", "--interval", "-1"],
            2,
            "genai-trace tail: error: argument --interval: expected a positive number of seconds",
        ),
        (
            ["tail", "--timeout", "-1"],
            2,
            "genai-trace tail: error: argument --timeout: expected 0 or more seconds",
        ),
        (["tail", "--initial", "-2"], 2, "genai-trace tail: error: argument --initial: expected"),
        (["show"], 2, "genai-trace: give a trace id or --last (one of the two)"),
        (["show", "--last", "abc"], 2, "genai-trace: give a trace id or --last (one of the two)"),
        (
            ["send", "--endpoint", "garbage"],
            2,
            "genai-trace: bad endpoint 'garbage': use a URL like http://127.0.0.1:4318",
        ),
        (
            ["send", "--endpoint", "ftp://127.0.0.1:4318"],
            2,
            "genai-trace: bad endpoint 'ftp://127.0.0.1:4318'",
        ),
    ],
)
def test_bad_arguments_and_targets_fail_in_one_line(
    db: Path, args: list[str], status: int, line: str
) -> None:
    result = cli(*args, db=db)
    assert result.returncode == status, result.stderr
    assert one_error_line(result).startswith(line)


def test_export_to_a_directory_fails_in_one_line(db: Path, tmp_path: Path) -> None:
    result = cli("export", "-o", str(tmp_path), db=db)
    assert result.returncode == 1
    assert one_error_line(result) == f"genai-trace: cannot write {tmp_path}: Is a directory"


@pytest.mark.parametrize("command", [["list"], ["stats"], ["ui", "--port", "0"]])
def test_a_directory_as_the_store_is_refused_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    result = cli("--db", str(tmp_path), *command, timeout=20)
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"genai-trace: the trace store {tmp_path} is a directory: name a file"
    )


def test_ui_refuses_a_file_that_is_not_a_store_at_start(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    result = cli("ui", "--port", "0", db=notes, timeout=20)
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"genai-trace: cannot read the trace store {notes} (file is not a database); "
        "is it a genai-trace store, and not corrupt?"
    )


def test_version() -> None:
    result = cli("--version")
    assert (result.returncode, result.stdout) == (0, f"genai-trace {genai_trace.__version__}\n")


def test_list_cuts_a_long_preview_to_its_column_with_one_ellipsis(tmp_path: Path) -> None:
    db = tmp_path / "long.db"
    question = "You said: How do I reset my password when the email is gone?"
    writer = (
        "import genai_trace\n"
        "from genai_trace.store import SQLiteTraceStore\n"
        f"genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r})])\n"
        f"with genai_trace.start_span('ask', inputs={question!r}):\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=60)
    result = cli("list", db=db)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    column = header.index("RESPONSE") - header.index("REQUEST") - 2  # 2 spaces between
    cell = row[header.index("REQUEST") : header.index("RESPONSE")].rstrip()
    assert cell == question[: column - 1] + "\u2026"


def live_tail(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genai_trace.cli", "--db", str(db), "tail", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_traces(db: Path, questions: list[str]) -> None:
    writer = (
        "import genai_trace\n"
        "from genai_trace.store import SQLiteTraceStore\n"
        f"genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r})])\n"
        "ask = genai_trace.trace(lambda q: q.upper())\n"
        f"for q in {questions!r}:\n"
        "    ask(q)\n"
    )
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=60)


def test_tail_initial_zero_shows_no_old_trace_and_count_stops_exactly(
    db: Path, tmp_path: Path
) -> None:
    old = cli("tail", "--initial", "0", "--timeout", "0", db=db)
    assert (old.returncode, old.stdout, old.stderr) == (0, "", "")

    live = tmp_path / "live.db"
    write_traces(live, ["old one"])
    tail = live_tail(live, "--initial", "0", "--count", "1", "--interval", "1", "--timeout", "60")
    try:
        time.sleep(0.5)  # tail reads where the store ends before the new traces arrive
        write_traces(live, ["first", "second", "third"])  # all three land in one poll
        out, err = tail.communicate(timeout=60)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    (line,) = out.splitlines()
    assert "first  ->  FIRST" in line


@pytest.fixture(scope="module")
def db300(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli300") / "traces.db"
    write_traces(path, [f"q{i}" for i in range(300)])
    return path


def test_send_puts_many_traces_in_each_request(db300: Path) -> None:
    stored = {info.trace_id for info in SQLiteTraceStore(db300).search(TraceQuery(limit=1000))}
    with FaultyBackend() as backend:
        result = cli("send", "--endpoint", backend.endpoint, db=db300)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (f"sent 300 trace(s) to {backend.endpoint}\n", "")
    assert [len(request.trace_ids) for request in backend.received] == [256, 44]
    assert sorted(backend.delivered()) == sorted(stored)


def test_send_names_the_batch_a_backend_refused(db300: Path) -> None:
    with FaultyBackend(script=deque([Status(200), Status(400)])) as backend:
        result = cli("send", "--endpoint", backend.endpoint, db=db300)
    assert result.returncode == 1
    line = one_error_line(result)
    first = backend.received[1].trace_ids[0]
    assert line == (
        f"genai-trace: the backend at {backend.endpoint} did not accept a batch of 44 traces, "
        f"the first {first} (256 sent before it)"
    )


def cli_on_a_terminal(*args: str, db: Path) -> tuple[subprocess.CompletedProcess[str], bytes]:
    """Run with stderr on a pseudo-terminal (as in a shell), stdout piped; return both."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "GENAI_TRACE_DB"}
    env["GENAI_TRACE_DB"] = str(db)
    with subprocess.Popen(
        [sys.executable, "-m", "genai_trace.cli", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        env=env,
    ) as process:
        os.close(follower)
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            terminal += chunk
        out, _ = process.communicate(timeout=60)
    os.close(leader)
    return subprocess.CompletedProcess(process.args, process.returncode, out, ""), terminal


def test_send_and_export_show_progress_on_a_terminal_only(db300: Path, tmp_path: Path) -> None:
    with FaultyBackend() as backend:
        sent, terminal = cli_on_a_terminal("send", "--endpoint", backend.endpoint, db=db300)
    assert sent.returncode == 0
    assert terminal.endswith(b"\rgenai-trace: sending 300/300 traces\r\033[K"), terminal
    assert sent.stdout == f"sent 300 trace(s) to {backend.endpoint}\n"

    out = tmp_path / "all.jsonl"
    exported, terminal = cli_on_a_terminal("export", "-o", str(out), db=db300)
    assert exported.returncode == 0
    assert terminal.endswith(b"\rgenai-trace: exporting 300/300 traces\r\033[K"), terminal
    assert len(out.read_text().splitlines()) == 300

    piped = cli("export", "-o", str(out), db=db300)  # stderr piped: no progress line
    assert (piped.returncode, piped.stderr) == (0, "")
