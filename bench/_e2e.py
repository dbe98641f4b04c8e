"""End-to-end rows: every library ships every span to a real receiver (or store), measured.

``python -m bench._e2e ROW SHAPE ENDPOINT OUT_PATH [--spans N] [--reps R]`` runs one row in
this (fresh) interpreter and writes its result as JSON. Each repetition times the loop plus
the flush that delivers what the loop produced:

- ``cpu``: ``time.process_time()``, every thread of this process (the caller, span
  processors, exporter threads, encoding, SQLite); the receiver's decoding is in its own
  process and never counted here;
- ``caller``: ``time.thread_time()`` of the calling thread alone;
- ``wall``: ``time.perf_counter()``.

After each repetition the row checks that the destination got every span the repetition
produced (the receiver's counts, or the rows in the SQLite store): ``lost`` must be 0.

Kept importable without genai-trace or any peer: a peer row runs in the peer's own venv.
"""

from __future__ import annotations

import functools
import gc
import inspect
import json
import os
import sqlite3
import statistics
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import _workload

Flush = Callable[[], object]
Delivered = Callable[[], dict[str, int]]
"""Spans and traces the destination holds so far, as ``{"spans": n, "traces": n}``."""

BIG_QUEUE = 1_000_000
"""Queue of every OTel BatchSpanProcessor here: larger than any run, so nothing is dropped
and every row does the same work (``OTEL_BSP_MAX_QUEUE_SIZE`` for the peers' own)."""

STORE_PATH = os.path.join(".genai_trace", "traces.db")  # the default, in the scratch dir


@dataclass(frozen=True)
class Row:
    """One row of the end-to-end table; ``venv`` names a peer's own virtualenv."""

    name: str
    title: str
    venv: str | None = None  # .ci/venvs/<venv>/bin/python
    destinations: tuple[str, ...] = ("otlp",)  # what lost/delivered is checked against
    default: bool = True  # in the table ``python -m bench`` makes without ``--rows``


ROWS: dict[str, Row] = {
    row.name: row
    for row in (
        Row("floor", "floor: raw OTel SDK + BatchSpanProcessor + official OTLP/HTTP exporter"),
        Row("genai_otlp", "genai-trace, OTLP/HTTP (`configure(otlp_endpoint=...)`, no store)"),
        Row("genai_store", "genai-trace, local store (`configure()`, the default)", None,
            ("store",)),
        Row("genai_both", "genai-trace, local store + OTLP/HTTP", None, ("otlp", "store")),
        Row("genai_store_app_ids", "genai-trace, local store, each call under a root span of "
            "the app's own TracerProvider (the SDK's random trace ids; 2 spans a trace)", None,
            ("store",), default=False),
        Row("openinference", "OpenInference `tracer.chain` + official OTLP/HTTP exporter",
            "peer-openinference"),
        Row("logfire", "Logfire `@instrument`, its OTLP/HTTP exporter (`OTEL_EXPORTER_OTLP_*`)",
            "peer-logfire"),
        Row("langfuse", "Langfuse `@observe`, its own OTLP/HTTP exporter", "peer-langfuse"),
        Row("mlflow", "mlflow-tracing `@mlflow.trace`, its OTLP/HTTP exporter "
            "(`OTEL_EXPORTER_OTLP_*`)", "peer-mlflow"),
    )
}  # fmt: skip

# --- destinations ------------------------------------------------------------------------


def receiver_counts(endpoint: str) -> Delivered:
    def delivered() -> dict[str, int]:
        with urllib.request.urlopen(endpoint + "/stats", timeout=30) as response:
            counts: dict[str, int] = json.load(response)
        return counts

    return delivered


def store_counts() -> dict[str, int]:
    from genai_trace.store.payloads import unpack_spans  # genai-trace's venv only

    if not os.path.exists(STORE_PATH):
        return {"spans": 0, "traces": 0}
    with sqlite3.connect(STORE_PATH) as connection:
        (traces,) = connection.execute("SELECT count(*) FROM traces").fetchone()
        # Every trace's spans decoded, as a reader would: delivered means readable.
        spans = sum(
            len(unpack_spans(packed, "", previews, dictionary))
            for packed, dictionary, *previews in connection.execute(_PACKED)
        )
    return {"spans": spans, "traces": int(traces)}


_PACKED = (
    "SELECT spans, data, request_preview, response_preview FROM trace_spans "
    "JOIN traces USING (seq) LEFT JOIN dictionaries ON id = dictionary"
)


# --- the rows' setups: (decorator, flush) ------------------------------------------------


def _json_decorator(tracer: Any) -> _workload.Decorator:
    """The floor: what a careful user writes by hand, inputs and outputs as JSON attributes.

    The same two attributes OpenInference records (``input.value``/``output.value`` with
    their mime types), so the floor ships what the rows above it ship at the least.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        name = func.__name__
        names = tuple(inspect.signature(func).parameters)

        @functools.wraps(func)
        def wrapper(*args: Any) -> Any:
            with tracer.start_as_current_span(name) as span:
                span.set_attribute("input.value", json.dumps(dict(zip(names, args, strict=True))))
                span.set_attribute("input.mime_type", "application/json")
                result = func(*args)
                span.set_attribute("output.value", json.dumps(result))
                span.set_attribute("output.mime_type", "application/json")
                return result

        return wrapper

    return decorate


def _otlp_processor(endpoint: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint + "/v1/traces"), max_queue_size=BIG_QUEUE
    )


def setup_floor(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(_otlp_processor(endpoint))
    return _json_decorator(provider.get_tracer("bench.floor")), provider.force_flush


def _genai(**config: Any) -> tuple[_workload.Decorator, Flush]:
    import genai_trace

    genai_trace.configure(**config)
    return genai_trace.trace, lambda: genai_trace.flush(120)


def setup_genai_otlp(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    return _genai(otlp_endpoint=endpoint, local_store=False)


def setup_genai_store(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    return _genai()


def setup_genai_both(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    return _genai(otlp_endpoint=endpoint)


def setup_genai_store_app_ids(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()  # its ids: the SDK's, random
    traced, flush = _genai(tracer_provider=provider)
    app_tracer = provider.get_tracer("app")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        inner = traced(func)

        def request(*args: Any) -> Any:
            with app_tracer.start_as_current_span("GET /answer"):  # the app's root span
                return inner(*args)

        return request

    return decorate, flush


def setup_openinference(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    from openinference.instrumentation import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(_otlp_processor(endpoint))
    return provider.get_tracer("bench.openinference").chain, provider.force_flush


def setup_logfire(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    """Logfire's documented path to other backends: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
    (set by the harness) and ``send_to_logfire=False``; Logfire builds its OTLP exporter."""
    import logfire

    logfire.configure(send_to_logfire=False, console=False, metrics=False)
    return logfire.instrument(record_return=True), logfire.force_flush


def setup_langfuse(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    """Langfuse's own exporter (OTLP/HTTP to ``<base_url>/api/public/otel/v1/traces``)."""
    from langfuse import Langfuse, observe

    client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=endpoint)
    return observe, client.flush


def setup_mlflow(endpoint: str) -> tuple[_workload.Decorator, Flush]:
    """MLflow's documented OTLP path: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (set by the
    harness before import) makes it export spans with the official OTLP exporter.

    mlflow-tracing also needs an experiment id (``MLFLOW_EXPERIMENT_ID``) and a tracking URI
    that is a server (never contacted here): without them it looks for a local ``mlruns``
    store, which the skinny package cannot import, and every span fails to end.
    """
    import mlflow
    from mlflow.tracing.provider import get_bridged_tracer_provider

    def flush() -> object:
        return get_bridged_tracer_provider().force_flush()

    return mlflow.trace, flush


SETUPS: dict[str, Callable[[str], tuple[_workload.Decorator, Flush]]] = {
    "floor": setup_floor,
    "genai_otlp": setup_genai_otlp,
    "genai_store": setup_genai_store,
    "genai_both": setup_genai_both,
    "genai_store_app_ids": setup_genai_store_app_ids,
    "openinference": setup_openinference,
    "logfire": setup_logfire,
    "langfuse": setup_langfuse,
    "mlflow": setup_mlflow,
}


def row_env(row: str, endpoint: str) -> dict[str, str]:
    """Environment a row's interpreter starts with: local, quiet, no queue drops.

    The standard ``OTEL_EXPORTER_OTLP_*`` variables go only to the peers whose documented
    OTLP path reads them: genai-trace would add an OTLP destination for them (the store row
    must ship to the store alone), and MLflow would also export metrics for the base one.
    """
    env = {
        "OTEL_BSP_MAX_QUEUE_SIZE": str(BIG_QUEUE),
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "LOGFIRE_SEND_TO_LOGFIRE": "false",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    if row in ("logfire", "mlflow"):
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = endpoint + "/v1/traces"
        env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    if row == "mlflow":
        env["MLFLOW_EXPERIMENT_ID"] = "0"
        env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"  # the discard port: never used
    return env


# --- the measurement ---------------------------------------------------------------------


def _delivered_fn(row: Row, endpoint: str) -> Callable[[], dict[str, dict[str, int]]]:
    otlp = receiver_counts(endpoint)

    def delivered() -> dict[str, dict[str, int]]:
        # The receiver is read for every row: one that ships to the store alone must send
        # it nothing (a stray OTLP path would be double work).
        counts = {"otlp": otlp()}
        if "store" in row.destinations:
            counts["store"] = store_counts()
        return counts

    return delivered


def _lost(
    row: Row,
    before: dict[str, dict[str, int]],
    after: dict[str, dict[str, int]],
    spans: int,
    traces: int,
) -> dict[str, dict[str, int]]:
    """Per destination, spans and traces produced but not delivered (negative: extra)."""
    lost = {}
    for dest in after:
        expected = (spans, traces) if dest in row.destinations else (0, 0)
        lost[dest] = {
            "spans": expected[0] - (after[dest]["spans"] - before[dest]["spans"]),
            "traces": expected[1] - (after[dest]["traces"] - before[dest]["traces"]),
        }
    return lost


def measure(row: Row, shape: str, endpoint: str, total_spans: int, reps: int) -> dict[str, Any]:
    decorate, flush = SETUPS[row.name.split("@")[0]](endpoint)
    make, spans_per_call = _workload.SHAPES[shape]
    call = make(decorate)
    calls = max(1, total_spans // spans_per_call)
    delivered = _delivered_fn(row, endpoint)

    warmup_calls = max(1, calls // 10)
    before = delivered()
    for _ in range(warmup_calls):
        call()
    flush()
    warmup_lost = _lost(row, before, delivered(), warmup_calls * spans_per_call, warmup_calls)

    samples: list[dict[str, Any]] = []
    for _ in range(reps):
        gc.collect()
        before = delivered()
        written0 = _written_bytes()
        cpu0, caller0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
        for _ in range(calls):
            call()
        flush()
        cpu1, caller1, wall1 = time.process_time(), time.thread_time(), time.perf_counter()
        written1 = _written_bytes()
        spans = calls * spans_per_call
        after = delivered()
        samples.append(
            {
                "cpu_us": (cpu1 - cpu0) / spans * 1e6,
                "caller_us": (caller1 - caller0) / spans * 1e6,
                "wall_us": (wall1 - wall0) / spans * 1e6,
                "lost": _lost(row, before, after, spans, calls),
                "otlp_bytes_per_span": (after["otlp"]["bytes"] - before["otlp"]["bytes"]) / spans,
                "written_bytes_per_span": (written1 - written0) / spans,
            }
        )
    result: dict[str, Any] = {
        "spans_per_call": spans_per_call,
        "calls_per_rep": calls,
        "spans_per_rep": calls * spans_per_call,
        **summary(samples, [warmup_lost]),
    }
    result["version"] = _version(row.name.split("@")[0])
    result["genai_stats"] = _genai_stats()
    return result


def _written_bytes() -> int:
    """Bytes this process has handed to ``write``-like system calls (Linux; else 0).

    Noise-free where CPU time is not: what a store writes a trace, WAL and checkpoints
    included, shows whether its cost grows with the file.
    """
    try:
        with open("/proc/self/io", encoding="ascii") as io:
            fields = dict(line.split(": ", 1) for line in io.read().splitlines())
        return int(fields["wchar"])
    except (OSError, KeyError, ValueError):
        return 0


def summary(samples: list[dict[str, Any]], warmups_lost: list[dict[str, Any]]) -> dict[str, Any]:
    """Repetitions' samples (each ``cpu_us``, ``lost``...) summed up: medians, spread, losses.

    Also used to merge the repetitions of one row run in several interpreters.
    """
    result: dict[str, Any] = {"reps": samples, "warmups_lost": warmups_lost}
    every = [*warmups_lost, *(s["lost"] for s in samples)]
    for unit in ("spans", "traces"):
        counts = [per_dest[unit] for lost in every for per_dest in lost.values()]
        result[f"lost_{unit}"] = sum(c for c in counts if c > 0)
        result[f"extra_{unit}"] = -sum(c for c in counts if c < 0)
    for key in ("cpu_us", "caller_us", "wall_us", "otlp_bytes_per_span", "written_bytes_per_span"):
        values = [s[key] for s in samples]
        result[key] = statistics.median(values)
        result[key + "_min"] = min(values)
        result[key + "_max"] = max(values)
    return result


def _version(row: str) -> str | None:
    from importlib import metadata

    dist = {
        "floor": "opentelemetry-sdk",
        "genai_otlp": "genai-trace",
        "genai_store": "genai-trace",
        "genai_both": "genai-trace",
        "openinference": "openinference-instrumentation",
        "mlflow": "mlflow-tracing",
    }.get(row, row)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _genai_stats() -> Any:
    module = sys.modules.get("genai_trace")
    if module is None:
        return None
    try:
        return module.stats()
    except Exception:
        return None


def main(argv: list[str]) -> int:
    name, shape, endpoint, out_path, *options = argv
    spans, reps = 11_000, 3
    if "--spans" in options:
        spans = int(options[options.index("--spans") + 1])
    if "--reps" in options:
        reps = int(options[options.index("--reps") + 1])
    row = ROWS[name.split("@")[0]]
    try:
        result = {"status": "ok", **measure(row, shape, endpoint, spans, reps)}
    except ImportError as exc:
        traceback.print_exc()
        result = {"status": "skipped", "reason": f"not installed ({exc.name or exc})"}
    except Exception as exc:  # reported in the table; the other rows go on
        traceback.print_exc()
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    result["python"] = sys.version.split()[0]
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(result, out, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
