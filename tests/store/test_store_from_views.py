"""Store rows written from span views read back as the rows written from records.

The store writes a runtime trace's rows from its views (facts and span dicts, no record
built); a plain :class:`Trace` (a merge, a custom caller) from its records. Both rows must
be the same bytes, and read back (``store.reader``) as the same trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import genai_trace
from genai_trace._runtime.deferred import DeferredTrace
from genai_trace._semantics.codec import dumps
from genai_trace.store import SQLiteTraceStore, TraceQuery
from genai_trace.store.payloads import stored_span_of_view
from tests.exporters.test_otlp_views import CASES, SECRET, Recorder
from tests.helpers.sqlite import connect


def _rows(path: Path) -> list[tuple[object, ...]]:
    with connect(path) as connection:
        traces = connection.execute(
            "SELECT trace_id, client_request_id, name, state, start_ns, end_ns, duration_ms, "
            "request_preview, response_preview, session_id, user_id, total_tokens, span_count, "
            "complete, info FROM traces"
        ).fetchall()
        spans = connection.execute(
            "SELECT seq, dictionary, spans FROM trace_spans ORDER BY seq"
        ).fetchall()
        spans += connection.execute("SELECT * FROM span_types ORDER BY span_type").fetchall()
        tags = connection.execute("SELECT * FROM trace_tags ORDER BY key").fetchall()
        calls = connection.execute("SELECT * FROM usage_calls ORDER BY span_id").fetchall()
    return [*traces, *spans, *tags, *calls]


@pytest.mark.parametrize("case", list(CASES))
def test_a_trace_written_from_views_reads_back_as_one_written_from_records(
    case: str, tmp_path: Path
) -> None:
    record, _ = CASES[case]
    recorder = Recorder()
    genai_trace.configure(exporters=[recorder])
    record()
    genai_trace.flush()
    (trace,) = recorder.traces
    assert isinstance(trace, DeferredTrace)

    from_views = SQLiteTraceStore(tmp_path / "views.db")
    assert from_views.export([trace]) is genai_trace.ExportResult.SUCCESS
    assert trace._built is None  # written without a record
    from_records = SQLiteTraceStore(tmp_path / "records.db")
    assert from_records.export([trace.built()]) is genai_trace.ExportResult.SUCCESS
    from_views.shutdown()
    from_records.shutdown()

    assert _rows(tmp_path / "views.db") == _rows(tmp_path / "records.db")
    read_views = SQLiteTraceStore(tmp_path / "views.db").get(trace.info.trace_id)
    read_records = SQLiteTraceStore(tmp_path / "records.db").get(trace.info.trace_id)
    assert read_views is not None and read_views == read_records
    assert len(read_views.spans) == len(trace.built().spans)


def test_views_go_once_every_destination_read_them_and_the_trace_reads_the_same(
    tmp_path: Path,
) -> None:
    """The store lets a trace's views go as it writes it, the other destination after its
    export; ``get_trace`` and a second write still give the redacted trace, rows unchanged."""
    store = SQLiteTraceStore(tmp_path / "traces.db")
    recorder = Recorder()
    genai_trace.configure(exporters=[store, recorder])
    CASES["plain"][0]()
    genai_trace.flush()
    (trace,) = recorder.traces
    assert isinstance(trace, DeferredTrace)
    assert trace._views is None and trace._built is None  # let go, never built

    got = genai_trace.get_trace(trace.view_info().trace_id)
    assert got is not None and got == store.get(trace.view_info().trace_id)
    assert SECRET not in repr(got.spans) and "[REDACTED" in repr(got.spans)
    again = SQLiteTraceStore(tmp_path / "again.db")
    assert again.export([trace]) is genai_trace.ExportResult.SUCCESS
    store.shutdown()
    again.shutdown()
    assert _rows(tmp_path / "again.db") == _rows(tmp_path / "traces.db")


def test_views_stay_while_a_destination_has_not_read_them() -> None:
    recorder = Recorder()
    genai_trace.configure(exporters=[recorder])
    CASES["plain"][0]()
    genai_trace.flush()
    (done,) = recorder.traces
    assert isinstance(done, DeferredTrace)
    trace = DeferredTrace(done.parts[0] if done.parts else (), readers=2)
    views = trace.span_views()
    info = trace.view_info()
    trace.views_read()
    assert trace.span_views() is views  # the second destination reads the same views
    assert trace.view_info() is info  # and the same facts
    trace.views_read()
    assert trace._views is None and trace._info is None  # both let go after the last
    assert trace.view_info() == info  # made again, equal
    again = trace.span_views()  # made again from the spans
    assert again is not None and views is not None
    assert [dumps(stored_span_of_view(v), default=repr) for v in again] == [
        dumps(stored_span_of_view(v), default=repr) for v in views
    ]


def test_sampled_destinations_let_each_traces_views_go_exactly_once(tmp_path: Path) -> None:
    """A sampler's wrapper lets a dropped trace's views go itself, and a kept one's only
    where the wrapped exporter does not (the store does, a plain exporter does not): every
    trace ends read once by each of its three destinations, never less, never more."""
    from genai_trace.sampling import SampledExporter, TailSampler

    half = TailSampler(rate=0.5)
    everything, sampled = Recorder(), Recorder()
    store = SQLiteTraceStore(tmp_path / "traces.db")
    genai_trace.configure(
        exporters=[SampledExporter(store, half), SampledExporter(sampled, half), everything]
    )
    for _ in range(40):
        CASES["plain"][0]()
    assert genai_trace.flush(10)
    traces = everything.traces
    assert len(traces) == 40 and 0 < len(sampled.traces) < 40  # some of each
    assert all(isinstance(t, DeferredTrace) for t in traces)
    assert [t._readers for t in traces] == [0] * 40  # type: ignore[attr-defined]
    assert all(t._views is None for t in traces)  # type: ignore[attr-defined]
    store.shutdown()


def test_a_batch_written_again_trace_by_trace_lets_each_traces_views_go_once(
    tmp_path: Path,
) -> None:
    """A trace the store refuses sends its batch to the one-by-one path, which reads every
    trace again: the views are still let go once per trace, so the other destination's
    count ends at exactly 0."""
    from opentelemetry import trace as trace_api

    everything = Recorder()
    store = SQLiteTraceStore(tmp_path / "traces.db")
    genai_trace.configure(exporters=[store, everything])
    foreign = trace_api.get_tracer("another.instrumentation")
    for i in range(10):
        with genai_trace.start_span("unit", inputs=f"trace {i}"):
            if i == 4:  # a broken clock, past SQLite's 64 bits: this trace is refused
                foreign.start_span("broken", start_time=2**70).end(end_time=2**70 + 1)
    assert genai_trace.flush(10)
    assert len(store.search(TraceQuery(limit=100))) == 9  # the refused one is not stored
    traces = everything.traces
    assert len(traces) == 10
    assert [t._readers for t in traces] == [0] * 10  # type: ignore[attr-defined]
    store.shutdown()
