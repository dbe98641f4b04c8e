"""Default destinations, several at once, the console exporter and tail sampling."""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

import genai_trace
from genai_trace import SpanType, Trace
from genai_trace._runtime import state as _runtime
from genai_trace.exporters import ConsoleTraceExporter, InMemoryTraceExporter, SQLiteTraceStore
from genai_trace.exporters.otlp import OTLPTraceExporter
from genai_trace.sampling import SampledExporter, TailSampler


@genai_trace.trace(span_type=SpanType.TOOL)
def work(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return x * 2


def destination_types() -> list[str]:
    rt = _runtime.current()
    assert rt is not None
    return [
        type(exporter).__name__
        for d in rt.pipeline.destinations
        for exporter in (d.exporter, *d.riders)
    ]


def test_zero_config_default_is_the_local_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    genai_trace.configure()
    assert destination_types() == ["SQLiteTraceStore"]
    work(1)
    genai_trace.flush()
    store = SQLiteTraceStore(tmp_path / ".genai_trace" / "traces.db")
    assert [i.name for i in store.search()] == ["work"]


def test_environment_adds_console_and_otlp_and_moves_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENAI_TRACE_DB", str(tmp_path / "elsewhere.db"))
    monkeypatch.setenv("GENAI_TRACE_CONSOLE", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("GENAI_TRACE_OTLP_SAMPLE_RATE", "0.5")
    genai_trace.configure(exit_flush_timeout_s=0.5)
    assert destination_types() == [
        "SQLiteTraceStore", "MetricsRecorder", "ConsoleTraceExporter", "SampledExporter"
    ]  # fmt: skip  # GenAI metrics go to the OTLP endpoint too, on the first one's thread
    rt = _runtime.current()
    assert rt is not None
    sampled = rt.pipeline.destinations[2].exporter
    assert isinstance(sampled, SampledExporter)
    assert isinstance(sampled.exporter, OTLPTraceExporter)
    assert sampled.sampler.rate == 0.5
    store = rt.pipeline.destinations[0].exporter
    assert isinstance(store, SQLiteTraceStore)
    assert store.path == tmp_path / "elsewhere.db"
    monkeypatch.delenv("GENAI_TRACE_CONSOLE")
    monkeypatch.delenv("GENAI_TRACE_OTLP_SAMPLE_RATE")
    genai_trace.configure(local_store=False, otlp_endpoint=None, exit_flush_timeout_s=0.5)
    assert destination_types() == ["OTLPTraceExporter", "MetricsRecorder"]


def test_a_slow_destination_never_delays_another() -> None:
    release = threading.Event()

    class Stuck:
        def export(self, traces: Sequence[Trace]) -> genai_trace.ExportResult:
            release.wait(30)
            return genai_trace.ExportResult.SUCCESS

        def shutdown(self) -> None:
            release.set()

    fast = InMemoryTraceExporter()
    genai_trace.configure(exporters=[Stuck(), fast])
    try:
        for i in range(3):
            work(i)
        deadline = time.monotonic() + 10
        while len(fast.get_finished_traces()) < 3 and time.monotonic() < deadline:
            genai_trace.flush(timeout_s=0.05)
        assert [t.spans[0].inputs for t in fast.get_finished_traces()] == [
            {"x": 0},
            {"x": 1},
            {"x": 2},
        ]
    finally:
        release.set()


def test_console_exporter_writes_a_readable_tree() -> None:
    stream = io.StringIO()
    genai_trace.configure(exporters=[ConsoleTraceExporter(stream, color=False)])

    @genai_trace.trace
    def outer(q: str) -> int:
        return work(len(q))

    outer("four")
    genai_trace.flush()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("outer  OK  ")
    assert "  request: four" in lines
    body = [line for line in lines if "TOOL" in line or "CHAIN" in line]
    assert [line.split("  ")[1:3] for line in body] == [["outer", "CHAIN"], ["└─ work", "TOOL"]]
    assert '     in : {"q": "four"}' in lines
    assert "\033[" not in stream.getvalue()


def make_trace(
    state: str = "OK", duration_ms: float = 1.0, trace_id: str = "0" * 31 + "1"
) -> Trace:
    info = genai_trace.TraceInfo(
        trace_id=trace_id,
        name="t",
        state=state,  # type: ignore[arg-type]
        start_time_ns=0,
        end_time_ns=int(duration_ms * 1e6),
        request_preview=None,
        response_preview=None,
        span_count=0,
    )
    return Trace(info=info, spans=())


def test_tail_sampler_rules() -> None:
    sampler = TailSampler(rate=0.0, keep_slower_than_ms=100)
    assert sampler.should_keep(make_trace(state="ERROR"))
    assert sampler.should_keep(make_trace(duration_ms=150))
    assert not sampler.should_keep(make_trace(duration_ms=5))
    assert TailSampler(rate=0.0, keep_errors=False).should_keep(make_trace("ERROR")) is False
    custom = TailSampler(rate=0.0, decide=lambda t: True if t.info.name == "t" else None)
    assert custom.should_keep(make_trace())
    with pytest.raises(ValueError, match="rate"):
        TailSampler(rate=1.5)


def test_rate_is_decided_by_trace_id_so_every_destination_agrees() -> None:
    sampler = TailSampler(rate=0.25)
    rng = random.Random(7)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(2000)]
    kept = [i for i in ids if sampler.should_keep(make_trace(trace_id=i))]
    assert 0.2 < len(kept) / len(ids) < 0.3
    assert kept == [i for i in ids if TailSampler(rate=0.25).should_keep(make_trace(trace_id=i))]


def test_sampling_is_per_destination() -> None:
    everything = InMemoryTraceExporter()
    errors_only_inner = InMemoryTraceExporter()
    errors_only = SampledExporter(errors_only_inner, TailSampler(rate=0.0))
    genai_trace.configure(exporters=[everything, errors_only])
    work(1)
    with pytest.raises(ValueError):
        work(-1)
    work(2)
    genai_trace.flush()
    assert len(everything.get_finished_traces()) == 3
    assert [t.info.state for t in errors_only_inner.get_finished_traces()] == ["ERROR"]
    assert (errors_only.kept, errors_only.sampled_out) == (1, 2)
    destinations = genai_trace.stats()["destinations"]
    assert "genai_trace export: InMemoryTraceExporter (sampled)" in destinations


def test_head_sampling_from_the_otel_sampler_still_applies() -> None:
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], tracer_provider=provider)
    try:
        assert work(3) == 6
        genai_trace.flush()
        assert exporter.get_finished_traces() == []
    finally:
        provider.shutdown()


class CPUBoundExporter:
    """Reads every trace and then spins: slower per trace than the loop that makes them."""

    def __init__(self, spin_s: float) -> None:
        self.spin_s = spin_s
        self.traces = 0

    def export(self, traces: Sequence[Trace]) -> genai_trace.ExportResult:
        for trace in traces:
            assert trace.spans[0].name == "work"  # reading builds the trace: real work
            deadline = time.perf_counter() + self.spin_s
            while time.perf_counter() < deadline:  # holds the GIL, as encoding and SQL do
                pass
            self.traces += 1
        return genai_trace.ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


@pytest.mark.slow
def test_a_cpu_bound_exporter_behind_a_flat_out_loop_loses_nothing() -> None:
    # Each trace costs the exporter several times what it costs the loop, and the queue holds
    # a tenth of the run: without backpressure most traces would be dropped.
    exporter = CPUBoundExporter(spin_s=0.0002)
    genai_trace.configure(exporters=[exporter], export_queue_size=300)
    for i in range(3_000):
        work(i)
    assert genai_trace.flush(60)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert counts == {"exported": 3_000, "failed": 0, "dropped": 0}
    assert exporter.traces == 3_000


@pytest.mark.slow
def test_a_flat_out_loop_behind_a_slower_exporter_keeps_its_queue_near_the_yield_point() -> None:
    # Queued traces are objects every full garbage collection walks: behind an exporter
    # slower than the loop, the queue must stay near YIELD_AT, far below its bound.
    from genai_trace._runtime import worker

    exporter = CPUBoundExporter(spin_s=0.0003)
    genai_trace.configure(exporters=[exporter], export_queue_size=20_000)
    rt = _runtime.current()
    assert rt is not None
    (destination,) = rt.pipeline.destinations
    longest = 0
    for i in range(6_000):
        work(i)
        if i % 50 == 0:
            longest = max(longest, destination.queued)
    assert genai_trace.flush(60)
    assert exporter.traces == 6_000
    assert worker.YIELD_AT < longest < 2 * worker.YIELD_AT


def test_a_trace_the_tail_sampler_drops_is_counted_as_sampled_out(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "sampled.db")
    genai_trace.configure(exporters=[SampledExporter(store, TailSampler(rate=0.0))])
    work(1)
    with pytest.raises(ValueError):
        work(-1)
    work(2)
    assert genai_trace.flush(10)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert counts == {"exported": 1, "failed": 0, "dropped": 0, "sampled_out": 2}
    assert [info.state for info in store.search()] == ["ERROR"]
