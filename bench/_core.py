"""Scenarios for raw OpenTelemetry (the floor) and for genai-trace itself.

Each function takes the :class:`Plan` and returns the result dict for one table row.
"""

from __future__ import annotations

import functools
import inspect
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import _workload
from bench._sinks import NoopSpanExporter, NoopTraceExporter
from bench._timing import Plan, calls_made, summary, time_calls


def _otel_tracer() -> tuple[Any, Callable[[], object]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopSpanExporter()))
    return provider.get_tracer("bench.floor"), provider.force_flush


def _floor_decorator(tracer: Any) -> _workload.Decorator:
    """What a careful user writes by hand: one span, inputs and outputs as JSON attributes."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        name = func.__name__
        names = tuple(inspect.signature(func).parameters)  # bound once, like @trace does

        @functools.wraps(func)
        def wrapper(*args: Any) -> Any:
            with tracer.start_as_current_span(name) as span:
                span.set_attribute("input.value", json.dumps(dict(zip(names, args, strict=True))))
                result = func(*args)
                span.set_attribute("output.value", json.dumps(result))
                return result

        return wrapper

    return decorate


def floor(plan: Plan, shape: str = "1") -> dict[str, object]:
    tracer, flush = _otel_tracer()
    make, spans = _workload.SHAPES[shape]
    plan = plan.for_spans(spans)
    result = summary(time_calls(make(_floor_decorator(tracer)), plan, flush), spans)
    flush()
    result["spans_expected"] = calls_made(plan) * spans
    result["spans_exported"] = NoopSpanExporter.exported
    return result


def _configure_genai(exporter: NoopTraceExporter | None = None) -> NoopTraceExporter:
    import genai_trace

    exporter = exporter or NoopTraceExporter()
    genai_trace.configure(exporters=[exporter])
    return exporter


def _genai_flush() -> None:
    import genai_trace

    genai_trace.flush(30)


def decorator(plan: Plan, shape: str = "1", read: bool = False) -> dict[str, object]:
    import genai_trace

    exporter = _configure_genai(NoopTraceExporter(read))
    make, spans = _workload.SHAPES[shape]
    plan = plan.for_spans(spans)
    result = summary(time_calls(make(genai_trace.trace), plan, _genai_flush), spans)
    _genai_flush()
    _count_exported(result, exporter, calls_made(plan), spans)
    return result


def decorator_read(plan: Plan, shape: str = "1") -> dict[str, object]:
    """As :func:`decorator`, with a sink that reads every span record (builds each trace)."""
    return decorator(plan, shape, read=True)


def _count_exported(
    result: dict[str, object], exporter: NoopTraceExporter, calls: int, spans: int
) -> None:
    result["traces_expected"] = calls
    result["traces_exported"] = exporter.traces
    if exporter.read:
        result["spans_expected"] = calls * spans
        result["spans_exported"] = exporter.spans


def start_span(plan: Plan) -> dict[str, object]:
    import genai_trace

    exporter = _configure_genai()
    question = _workload.QUESTION

    def call() -> object:
        with genai_trace.start_span(
            "answer", inputs={"question": question, "top_k": 3, "temperature": 0.2}
        ) as span:
            result = {"answer": "It drops the span.", "sources": [1, 2, 3], "score": 0.92}
            span.set_outputs(result)
        return result

    result = summary(time_calls(call, plan, _genai_flush), 1)
    _genai_flush()
    _count_exported(result, exporter, calls_made(plan), 1)
    return result


def client(plan: Plan) -> dict[str, object]:
    """The low-level client: a one-span trace started and ended by explicit ids."""
    import genai_trace

    exporter = _configure_genai()
    tracer_client = genai_trace.TraceClient()
    question = _workload.QUESTION

    def call() -> object:
        root = tracer_client.start_trace(
            "answer", inputs={"question": question, "top_k": 3, "temperature": 0.2}
        )
        result = {"answer": "It drops the span.", "sources": [1, 2, 3], "score": 0.92}
        tracer_client.end_trace(trace_id=root.trace_id, outputs=result)
        return result

    result = summary(time_calls(call, plan, _genai_flush), 1)
    _genai_flush()
    _count_exported(result, exporter, calls_made(plan), 1)
    return result


def disabled(plan: Plan) -> dict[str, object]:
    """Added cost of a decorated function while tracing is off, against the bare function."""
    import genai_trace

    _configure_genai()
    genai_trace.disable()

    def answer(question: str, top_k: int, temperature: float) -> dict[str, Any]:
        return {"answer": "It drops the span.", "sources": [1, 2, 3], "score": 0.92}

    traced = genai_trace.trace(answer)
    q = _workload.QUESTION
    # These calls take tens of ns: time 10x more of them, or timer and loop noise dominate.
    many = Plan(plan.calls * 10, plan.reps, plan.warmup, 0)
    bare_ns = time_calls(lambda: answer(q, 3, 0.2), many)
    traced_ns = time_calls(lambda: traced(q, 3, 0.2), many)
    added = [t - b for t, b in zip(traced_ns, bare_ns, strict=True)]
    return {
        "spans_per_call": 0,
        "bare_ns": statistics.median(bare_ns),
        "traced_ns": statistics.median(traced_ns),
        "added_ns": statistics.median(traced_ns) - statistics.median(bare_ns),
        "reps_added_ns": added,
    }


def _flat_out(plan: Plan, count_exported: Callable[[], int]) -> dict[str, object]:
    """Call a traced function flat out on one thread; how many traces got through?"""
    import genai_trace

    calls = plan.flat_out_calls
    call = _workload.single(genai_trace.trace)
    start = time.perf_counter_ns()
    for _ in range(calls):
        call()
    produced_ns = time.perf_counter_ns() - start
    flushed = genai_trace.flush(120)
    total_ns = time.perf_counter_ns() - start
    exported = count_exported()
    return {
        "spans_per_call": 1,
        "produced": calls,
        "exported": exported,
        "lost": calls - exported,
        "flush_ok": flushed,
        "spans_per_s_calling": calls / (produced_ns / 1e9),
        "spans_per_s_end_to_end": exported / (total_ns / 1e9),
        "us_per_span": produced_ns / calls / 1000,
        "stats": genai_trace.stats(),
    }


def no_loss(plan: Plan) -> dict[str, object]:
    """One thread calls a traced function flat out; does every trace reach the exporter?"""
    # The default pipeline, untouched: the question is whether its queues keep up.
    exporter = _configure_genai()
    return _flat_out(plan, lambda: exporter.traces)


def no_loss_store(plan: Plan) -> dict[str, object]:
    """The zero-config default: every trace of a flat-out loop must land in the local store."""
    import sqlite3

    import genai_trace

    genai_trace.configure()  # the default destination: .genai_trace/traces.db (scratch dir)

    def stored() -> int:
        with sqlite3.connect(".genai_trace/traces.db") as connection:
            (count,) = connection.execute("SELECT count(*) FROM traces").fetchone()
        return int(count)

    return _flat_out(plan, stored)


def _rss_mib() -> float:
    """Resident memory now, from /proc (Linux), in MiB."""
    import os

    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def memory(plan: Plan) -> dict[str, object]:
    """RSS after a warm-up and after ten times the flat-out loop: it must stay flat."""
    import gc

    import genai_trace

    exporter = _configure_genai()
    call = _workload.single(genai_trace.trace)
    warmup = plan.flat_out_calls
    for _ in range(warmup):
        call()
    genai_trace.flush(120)
    gc.collect()
    start = _rss_mib()
    calls = warmup * 10
    for _ in range(calls - warmup):
        call()
    genai_trace.flush(120)
    gc.collect()
    return {
        "us_per_span": 0.0,
        "warmup_calls": warmup,
        "calls": calls,
        "rss_start_mib": start,
        "rss_end_mib": _rss_mib(),
        "exported": exporter.traces,
    }


def memory_stalled(plan: Plan) -> dict[str, object]:
    """RSS while the only exporter hangs: the queue must cap memory, drops be counted."""
    import gc
    import threading

    import genai_trace

    released = threading.Event()

    class StalledExporter(NoopTraceExporter):
        def export(self, traces: Any) -> Any:
            released.wait()  # a backend that never answers
            return super().export(traces)

    genai_trace.configure(exporters=[StalledExporter()])
    call = _workload.single(genai_trace.trace)
    first = plan.flat_out_calls
    for _ in range(first):
        call()
    gc.collect()
    start = _rss_mib()
    for _ in range(first * 4):
        call()
    gc.collect()
    end = _rss_mib()
    (counts,) = genai_trace.stats()["destinations"].values()
    released.set()
    return {
        "us_per_span": 0.0,
        "calls": first * 5,
        "rss_start_mib": start,
        "rss_end_mib": end,
        "dropped": counts["dropped"],
        "queue_cap": _config_value("export_queue_size"),
    }


def _config_value(name: str) -> object:
    from genai_trace._runtime import state as _runtime

    runtime = _runtime.current()
    return getattr(runtime.config, name) if runtime is not None else None
