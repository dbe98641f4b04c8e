"""Each trace's spans in one packed row (schema version 2).

The span rows of a store of the first schema are packed by the upgrade: read, filtered and
counted with new ones, and a late part of such a trace is merged into its packed row.
Readers of a store not upgraded yet read its span rows as they are. Several processes
opening an old store at once migrate it once.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace._semantics.model import SpanRecord, Trace, span_from_dict, trace_from_dict
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader, schema
from genai_trace.store.payloads import (
    COMPRESS_FROM,
    Dictionary,
    _zdict,
    pack_spans,
    stored_span,
    unpack_spans,
)
from genai_trace.store.schema import SCHEMA_VERSION, open_for_writing
from tests.helpers.sqlite import connect, fetch_all

FIXTURES = Path(__file__).parent / "fixtures"
OLD_TRACES: list[dict[str, Any]] = json.loads(
    (FIXTURES / "store_v1.json").read_text(encoding="utf-8")
)


@pytest.fixture
def store_v1(tmp_path: Path) -> Path:
    db = tmp_path / "traces.db"
    shutil.copyfile(FIXTURES / "store_v1.db", db)
    return db


def span_dict(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "parent_id": None,
        "name": "step",
        "span_type": "LLM",
        "start_time_ns": 1_000,
        "end_time_ns": None,
        "status": "UNSET",
        "status_message": None,
        "model": None,
        "parent_is_remote": False,
        "kind": "INTERNAL",
        "instrumentation_scope": None,
        "inputs": None,
        "outputs": None,
        "attributes": {},
        "events": [],
        "token_usage": None,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "span",
    [
        span_dict(),
        span_dict(
            parent_id="ef" * 8,
            end_time_ns=2_000,
            status="ERROR",
            status_message="boom",
            model="gpt-4o",
            parent_is_remote=True,
            kind="SERVER",
            instrumentation_scope="openai",
            inputs={"q": "why?", "n": None},
            outputs=[False, 0, "", None],
            attributes={"k": "v"},
            events=[{"name": "e", "timestamp_ns": 1_500, "attributes": {}}],
            token_usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        ),
        span_dict(inputs="long " * COMPRESS_FROM, outputs="é" * 2_000),  # compressed
    ],
    ids=["defaults", "every-field-set", "compressed"],
)
@pytest.mark.parametrize("dictionary", [None, Dictionary(7, b'"inputs":"long long')])
@pytest.mark.parametrize("previews", [(None, None), ("long long", "\udce9 half")])
def test_a_packed_span_reads_back_exactly(
    span: dict[str, Any], dictionary: Dictionary | None, previews: tuple[str | None, ...]
) -> None:
    packed = pack_spans([stored_span(span)], previews, dictionary)
    compressed = len(json.dumps([stored_span(span)])) >= COMPRESS_FROM
    assert (packed.spans[:1] == b"[") is not compressed
    assert packed.dictionary_id == (dictionary.id if dictionary and compressed else None)
    used = dictionary.data if packed.dictionary_id is not None and dictionary else None
    (back,) = unpack_spans(packed.spans, span["trace_id"], previews, used)
    assert span_from_dict(back) == span_from_dict(span)
    if compressed and (dictionary or previews[0]):  # a wrong dictionary is no dictionary
        with pytest.raises(zlib.error):
            unpack_spans(packed.spans, span["trace_id"], (None, None), None)


@pytest.mark.parametrize("size", [10, COMPRESS_FROM])
def test_text_utf8_cannot_hold_is_packed_with_a_replacement_character(size: int) -> None:
    # A lone surrogate from another instrumentation: the trace is kept, the character
    # replaced (orjson refuses such text; the standard library writes it, UTF-8 cannot).
    span = span_dict(name="half \udce9", inputs="x" * size)
    packed = pack_spans([stored_span(span)], (None, None), None)
    (back,) = unpack_spans(packed.spans, span["trace_id"], (None, None), None)
    assert back["name"] == "half \ufffd"
    assert back["inputs"] == "x" * size


def test_a_store_keeps_repeated_payloads_small(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db, retention=None)])
    answer = " ".join(f"word{i % 97}" for i in range(120))

    @genai_trace.trace(span_type=SpanType.LLM)
    def generate(question: str, docs: list[str]) -> str:
        return answer

    @genai_trace.trace
    def run(i: int) -> str:
        return generate(f"question {i}", [answer[:300], answer[300:]])

    for i in range(200):
        run(i)
    assert genai_trace.flush(30)
    genai_trace.shutdown()
    with connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (packed,) = connection.execute("SELECT sum(length(spans)) FROM trace_spans").fetchone()
    connection.close()
    raw = sum(len(trace.to_json()) for trace in map(TraceReader(db).get, ids(db)) if trace)
    assert packed < raw / 4  # the copies of one trace's payloads cost almost nothing


def test_a_payload_is_stored_once_and_read_back_as_recorded(tmp_path: Path) -> None:
    # A span's inputs and outputs are decoded from its input.value / output.value: the
    # store keeps those alone (and a chat's payload is encoded and compressed once).
    from genai_trace.testing import capture_traces

    db = tmp_path / "traces.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db, retention=None)])
    prose = "a chat's context, " * 150

    @genai_trace.trace(span_type=SpanType.LLM)
    def chat(messages: list[dict[str, str]], temperature: float) -> dict[str, Any]:
        return {"role": "assistant", "content": "unique answer " + prose}

    @genai_trace.trace
    def text_only(question: str) -> str:  # a lone string: text, not JSON
        return "unique plain " + prose

    with capture_traces() as traces:
        chat([{"role": "user", "content": "unique question " + prose}], 0.2)
        text_only("unique text " + prose)
    assert genai_trace.flush(30)
    genai_trace.shutdown()
    reader = TraceReader(db)
    for trace in traces:
        assert reader.get(trace.info.trace_id) == trace
    rows = fetch_all(
        db,
        "SELECT spans, dictionary, request_preview, response_preview FROM trace_spans "
        "JOIN traces USING (seq)",
    )
    for packed, dictionary_id, *previews in rows:
        assert dictionary_id is None  # no store dictionary yet: the previews alone
        (span,) = json.loads(_inflate(packed, previews))
        assert "inputs" not in span and "outputs" not in span and span["io"] == 3
        stored = json.dumps(span)
        assert stored.count("unique") == 2  # once in, once out


def _inflate(packed: bytes, previews: list[str | None]) -> bytes:
    """The packed JSON as stored (``unpack_spans`` would put the payloads back)."""
    if packed[:1] == b"[":
        return packed
    zdict = _zdict(b"", previews)
    decompressor = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
    return decompressor.decompress(packed) + decompressor.flush()


def ids(db: Path) -> list[str]:
    return [info.trace_id for info in TraceReader(db).search(TraceQuery(limit=1000))]


def test_upgraded_span_rows_and_new_ones_are_read_filtered_and_counted_together(
    store_v1: Path,
) -> None:
    genai_trace.configure(exporters=[SQLiteTraceStore(store_v1, retention=None)])
    with genai_trace.start_span("new", span_type=SpanType.TOOL):
        with genai_trace.start_span("inner", span_type=SpanType.LLM):
            pass
    assert genai_trace.flush(10)
    reader = TraceReader(store_v1)
    tools = reader.search(TraceQuery(span_type="TOOL", descending=False))
    assert [info.name for info in tools] == [OLD_TRACES[3]["info"]["name"], "new"]
    assert reader.stats()["by_span_type"] == {
        "CHAIN": 3,
        "RETRIEVER": 3,
        "LLM": 4,
        "TOOL": 2,
    }
    for old in OLD_TRACES:
        read = reader.get(old["info"]["trace_id"])
        assert read is not None and read.to_dict() == old


def test_a_late_part_of_an_old_trace_is_merged_into_one_packed_row(store_v1: Path) -> None:
    old = trace_from_dict(OLD_TRACES[0])
    root = old.root
    assert root is not None
    late = SpanRecord(
        **{
            **span_from_dict(span_dict(trace_id=root.trace_id)).__dict__,
            "span_id": "12" * 8,
            "parent_id": root.span_id,
            "name": "late",
            "span_type": "TOOL",
            "start_time_ns": root.start_time_ns + 1,
            "end_time_ns": root.start_time_ns + 2,
        }
    )
    store = SQLiteTraceStore(store_v1, retention=None)
    assert store.export([Trace(info=old.info, spans=(late,))]).name == "SUCCESS"
    store.shutdown()
    read = TraceReader(store_v1).get(root.trace_id)
    assert read is not None
    assert {s.span_id: s for s in read.spans} == {
        **{s.span_id: s for s in old.spans},
        late.span_id: late,
    }
    with connect(store_v1) as connection:
        types = dict(
            connection.execute(
                "SELECT span_type, spans FROM span_types JOIN traces USING (seq) "
                "WHERE trace_id = ?",
                (root.trace_id,),
            ).fetchall()
        )
    connection.close()
    assert types == {"CHAIN": 1, "RETRIEVER": 1, "LLM": 1, "TOOL": 1}


def open_with_one_more_migration(db: str, start: Any, results: Any) -> None:
    """In a process of its own: a release with a migration that fails if run twice."""

    def add_a_column(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE traces ADD COLUMN added_once TEXT")

    schema.MIGRATIONS = (*schema.MIGRATIONS, add_a_column)
    schema.SCHEMA_VERSION = len(schema.MIGRATIONS)
    start.wait(30)
    try:
        open_for_writing(Path(db), timeout_s=20.0).close()
        results.put("ok")
    except BaseException as exc:  # reported to the test, which fails on it
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_processes_opening_an_old_store_at_once_migrate_it_once(
    store_v1: Path, method: str
) -> None:
    context = multiprocessing.get_context(method)
    start = context.Barrier(4)
    results = context.Queue()
    processes = [
        context.Process(target=open_with_one_more_migration, args=(str(store_v1), start, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    assert outcomes == ["ok"] * 4
    with connect(store_v1) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        columns = [row[1] for row in connection.execute("PRAGMA table_info(traces)")]
        (traces,) = connection.execute("SELECT count(*) FROM traces").fetchone()
    connection.close()
    assert version == SCHEMA_VERSION + 1
    assert columns.count("added_once") == 1
    assert traces == len(OLD_TRACES)


def big_trace(i: int, **info: Any) -> Trace:
    """A trace whose spans pack to a few KB of JSON (compressed, and sampled)."""
    trace_id = f"{i + 1:032x}"
    words = " ".join(f"w{(i * 7 + k) % 500}" for k in range(400))
    spans = [
        span_dict(trace_id=trace_id, span_id=f"{i + 1:08x}0000000{k}", name=f"s{k}",
                  parent_id=None if k == 0 else f"{i + 1:08x}00000000",
                  start_time_ns=1_000 + k, end_time_ns=2_000, inputs={"q": words[k:]},
                  outputs=words)
        for k in range(3)
    ]  # fmt: skip
    data = {
        "info": {
            "trace_id": trace_id,
            "name": "s0",
            "state": "OK",
            "start_time_ns": 1_000 + i,
            "end_time_ns": 2_000 + i,
            "request_preview": words[:100],
            "response_preview": words[:300],
            "span_count": 3,
            **info,
        },
        "spans": spans,
    }
    return trace_from_dict(data)


def test_a_store_dictionary_is_learned_once_and_used_by_every_writer(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    first = SQLiteTraceStore(db, retention=None)
    for i in range(40):  # batches of one: the dictionary comes from the first ~64 KB
        assert first.export([big_trace(i)]).name == "SUCCESS"
    first.shutdown()
    second = SQLiteTraceStore(db, retention=None)  # another process's writer, later
    assert second.export([big_trace(i) for i in range(40, 60)]).name == "SUCCESS"
    second.shutdown()
    with connect(db) as connection:
        (dictionaries,) = connection.execute("SELECT count(*) FROM dictionaries").fetchone()
        used = dict(
            connection.execute(
                "SELECT dictionary IS NOT NULL, count(*) FROM trace_spans GROUP BY 1"
            ).fetchall()
        )
    connection.close()
    assert dictionaries == 1
    assert used[1] >= 40 and used[0] <= 20
    reader = TraceReader(db)
    for i in range(60):
        expected = big_trace(i)
        read = reader.get(expected.info.trace_id)
        assert read is not None and read.spans == expected.spans


def test_a_batch_rolled_back_after_learning_a_dictionary_leaves_none_dangling(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.db"
    store = SQLiteTraceStore(db, retention=None)
    assert store.export([big_trace(0)]).name == "SUCCESS"
    with connect(db) as connection:  # a write refused after the packing
        connection.execute(
            "CREATE TRIGGER refuse AFTER INSERT ON span_types WHEN NEW.span_type = 'BOOM' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    connection.close()
    bad = trace_from_dict(
        {
            **big_trace(99).to_dict(),
            "spans": [{**s.__dict__, "span_type": "BOOM"} for s in big_trace(99).spans],
        }
    )
    # The batch fails after its traces were packed and sampled: it is written again trace
    # by trace, the bad one refused.
    store.export(
        [*(big_trace(i) for i in range(1, 30)), bad, *(big_trace(i) for i in range(30, 60))]
    )
    assert store.take_rejected() == 1
    store.shutdown()
    dangling = fetch_all(
        db,
        "SELECT count(*) FROM trace_spans WHERE dictionary IS NOT NULL "
        "AND dictionary NOT IN (SELECT id FROM dictionaries)",
    )
    assert dangling == [(0,)]
    reader = TraceReader(db)
    assert reader.count() == 60
    for i in range(60):
        expected = big_trace(i)
        read = reader.get(expected.info.trace_id)
        assert read is not None and read.spans == expected.spans


def test_a_reader_of_a_store_not_upgraded_reads_filters_and_counts_its_span_rows(
    store_v1: Path,
) -> None:
    reader = TraceReader(store_v1)
    assert [i.name for i in reader.search(TraceQuery(span_type="TOOL"))] == [
        OLD_TRACES[3]["info"]["name"]
    ]
    assert reader.stats()["by_span_type"] == {"CHAIN": 3, "RETRIEVER": 3, "LLM": 3, "TOOL": 1}
    for old in OLD_TRACES:
        read = reader.get(old["info"]["trace_id"])
        assert read is not None and read.to_dict() == old
    with connect(store_v1) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert version == 1  # read as it is: readers never write
