"""``genai-trace tag`` and ``genai-trace rm``, run as a user runs them: subprocesses on a store."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from genai_trace.store import SQLiteTraceStore, TraceQuery
from tests.helpers.apps.stored_rag import fill
from tests.test_cli import one_error_line


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "traces.db"
    fill(SQLiteTraceStore(path))
    return path


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """Run the command with stdin not a terminal (as in a script or CI)."""
    env = {**os.environ, "GENAI_TRACE_DB": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def trace_id_of(db: Path, question: str) -> str:
    (info,) = SQLiteTraceStore(db).search(TraceQuery(text=question, name="rag"))
    return info.trace_id


def tags_of(db: Path, trace_id: str) -> dict[str, str] | None:
    trace = SQLiteTraceStore(db).get(trace_id)
    return None if trace is None else dict(trace.info.tags)


def cli_with_a_terminal(*args: str, db: Path, answer: bytes) -> tuple[int, bytes]:
    """Run with stdin and stderr on a pseudo-terminal, typing ``answer``; (status, screen)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "GENAI_TRACE_DB": str(db)}
    with subprocess.Popen(
        [sys.executable, "-m", "genai_trace.cli", *args],
        stdin=follower,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=env,
    ) as process:
        os.close(follower)
        screen = b""
        while b"[y/N] " not in screen:
            chunk = os.read(leader, 4096)
            assert chunk, screen
            screen += chunk
        os.write(leader, answer)
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        status = process.wait(timeout=60)
    os.close(leader)
    return status, screen


def test_tag_sets_and_deletes_a_tag(db: Path) -> None:
    trace_id = trace_id_of(db, "alpha")
    result = cli("tag", trace_id, "reviewed", "yes", db=db)
    assert (result.returncode, result.stdout) == (0, f"tagged {trace_id}: reviewed=yes\n")
    assert tags_of(db, trace_id) == {"q": "alpha", "reviewed": "yes"}
    listed = cli("list", "--tag", "reviewed=yes", "--json", db=db)
    assert trace_id in listed.stdout and len(listed.stdout.splitlines()) == 1

    result = cli("tag", trace_id, "reviewed", "--delete", db=db)
    assert (result.returncode, result.stdout) == (0, f"removed tag reviewed on {trace_id}\n")
    assert tags_of(db, trace_id) == {"q": "alpha"}
    result = cli("tag", trace_id, "reviewed", "--delete", db=db)
    assert (result.returncode, result.stdout) == (0, f"no tag to remove: reviewed on {trace_id}\n")


def test_tag_errors_are_one_line(db: Path) -> None:
    unknown = "4bf92f3577b34da6a3ce929d0e0e4736"
    result = cli("tag", unknown, "k", "v", db=db)
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"genai-trace: no trace '{unknown}' in the trace store {db} (a trace id is 32 hex "
        "digits, or give the client request id)"
    )
    trace_id = trace_id_of(db, "alpha")
    for args in (("k",), ("k", "v", "--delete")):
        result = cli("tag", trace_id, *args, db=db)
        assert result.returncode == 2
        assert one_error_line(result) == (
            "genai-trace: give a VALUE to set the tag, or --delete to remove it (one of the two)"
        )


def test_rm_with_yes_deletes_named_or_filtered_traces(db: Path) -> None:
    alpha = trace_id_of(db, "alpha")
    result = cli("rm", alpha, "--yes", db=db)
    assert (result.returncode, result.stdout) == (0, f"deleted 1 trace(s) from {db}\n")
    assert tags_of(db, alpha) is None
    result = cli("rm", "--state", "ERROR", "-y", db=db)
    assert (result.returncode, result.stdout) == (0, f"deleted 1 trace(s) from {db}\n")
    assert [i.request_preview for i in SQLiteTraceStore(db).search()] == [
        "hello 100%_done",
        "beta",
    ]
    result = cli("rm", "--state", "ERROR", "-y", db=db)
    assert (result.returncode, result.stdout) == (0, "no traces match: nothing deleted\n")
    result = cli("rm", alpha, "-y", db=db)
    assert result.returncode == 1
    assert one_error_line(result) == f"genai-trace: none of the traces named is in {db}"


def test_rm_without_a_terminal_or_yes_refuses(db: Path) -> None:
    alpha = trace_id_of(db, "alpha")
    result = cli("rm", alpha, db=db)
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"genai-trace: not asking to delete 1 trace(s) from {db}: stdin is not a terminal; "
        "pass --yes"
    )
    assert tags_of(db, alpha) is not None
    for args in ((), (alpha, "--state", "OK")):
        result = cli("rm", *args, "--yes", db=db)
        assert result.returncode == 2
        assert one_error_line(result) == (
            "genai-trace: name trace ids, or give filters such as --since or --state "
            "(one of the two)"
        )


def test_rm_on_a_terminal_asks_first(db: Path) -> None:
    alpha = trace_id_of(db, "alpha")
    status, screen = cli_with_a_terminal("rm", "--tag", "q=alpha", db=db, answer=b"n\n")
    assert status == 1
    assert screen.endswith(b"genai-trace: nothing deleted\r\n"), screen
    assert f"delete 1 trace(s) from {db}? [y/N] ".encode() in screen
    assert tags_of(db, alpha) is not None

    status, screen = cli_with_a_terminal("rm", alpha, db=db, answer=b"y\n")
    assert status == 0, screen
    assert tags_of(db, alpha) is None
