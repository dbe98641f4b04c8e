"""Schema versions that are read: old stores migrate on open, a newer store is refused.

The fixture ``fixtures/store_v1.db`` was written by ``scripts/make_store_fixture.py`` with the
first schema; ``store_v1.json`` holds the traces it exported. Every later release must open
that file, migrate it and read back exactly those traces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader, TraceStoreError, schema
from genai_trace.store.schema import SCHEMA_VERSION, open_for_writing
from tests.helpers.paths import REPO_ROOT
from tests.helpers.sqlite import connect

FIXTURES = Path(__file__).parent / "fixtures"


def user_version(db: Path) -> int:
    with connect(db) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    return int(version)


@pytest.fixture
def store_v1(tmp_path: Path) -> Path:
    db = tmp_path / "traces.db"
    shutil.copyfile(FIXTURES / "store_v1.db", db)
    return db


def test_a_store_of_the_first_schema_opens_migrates_and_reads_back_exactly(
    store_v1: Path,
) -> None:
    expected = json.loads((FIXTURES / "store_v1.json").read_text(encoding="utf-8"))
    assert user_version(store_v1) == 1
    # readers read an old store as it is (they never write, so never migrate)
    for trace in expected:
        assert TraceReader(store_v1).get(trace["info"]["trace_id"]).to_dict() == trace  # type: ignore[union-attr]
    assert user_version(store_v1) == 1
    open_for_writing(store_v1, timeout_s=5.0).close()
    assert user_version(store_v1) == SCHEMA_VERSION
    reader = TraceReader(store_v1)
    stored = reader.search(TraceQuery(descending=False))
    assert [info.trace_id for info in stored] == [t["info"]["trace_id"] for t in expected]
    for trace in expected:
        read = reader.get(trace["info"]["trace_id"])
        assert read is not None
        assert read.to_dict() == trace
    assert [i.request_preview for i in reader.search(TraceQuery(tags={"env": "prod"}))] == ["fail"]

    # and it takes new traces beside the old ones
    genai_trace.configure(exporters=[SQLiteTraceStore(store_v1, retention=None)])
    with genai_trace.start_span("after the upgrade"):
        pass
    assert genai_trace.flush(10)
    assert reader.count() == len(expected) + 1


@pytest.fixture
def store_from_the_future(tmp_path: Path) -> Path:
    db = tmp_path / "traces.db"
    open_for_writing(db, timeout_s=5.0).close()
    with connect(db) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    connection.close()
    return db


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_a_store_of_a_newer_release_is_never_written_and_says_upgrade(
    store_from_the_future: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = store_from_the_future
    before = digest(db.parent)
    genai_trace.configure(exporters=[SQLiteTraceStore(db)])
    for _ in range(3):
        with genai_trace.start_span("work"):
            pass
        assert genai_trace.flush(10)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert (counts["exported"], counts["failed"]) == (0, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"genai_trace: cannot write the trace store {db} (the trace store {db} was written by "
        f"a newer genai-trace (store version {SCHEMA_VERSION + 1}, this one knows up to "
        f"{SCHEMA_VERSION}): upgrade genai-trace to read or write it): 1 traces not stored "
        "since the start; see genai_trace.stats()"
    ]
    genai_trace.shutdown()
    assert digest(db.parent) == before

    with pytest.raises(TraceStoreError, match=r"newer genai-trace.*upgrade genai-trace"):
        genai_trace.search_traces(db_path=db)


def test_the_cli_on_a_newer_store_prints_one_line(store_from_the_future: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", "list", "--db", str(store_from_the_future)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if k != "GENAI_TRACE_DB"},
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "newer genai-trace" in result.stderr
    assert "upgrade genai-trace" in result.stderr


def test_processes_opening_an_old_store_at_once_migrate_it_once(
    store_v1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []

    def add_a_column(connection: sqlite3.Connection) -> None:
        runs.append(1)
        connection.execute("ALTER TABLE traces ADD COLUMN feedback TEXT")  # twice: an error

    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, add_a_column))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            open_for_writing(store_v1, timeout_s=10.0).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert runs == [1]
    assert user_version(store_v1) == schema.SCHEMA_VERSION  # the patched one
    assert TraceReader(store_v1).count() == 4


def test_a_failed_migration_leaves_the_store_as_it_was(
    store_v1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE traces ADD COLUMN feedback TEXT")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, half_done))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with pytest.raises(sqlite3.OperationalError):
        open_for_writing(store_v1, timeout_s=5.0)
    assert user_version(store_v1) == 1
    with connect(store_v1) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(traces)")]
    connection.close()
    assert "feedback" not in columns
