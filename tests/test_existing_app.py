"""Living inside an app that already uses OpenTelemetry (issue 13, items 2 to 6).

Each test walks the app's path: its own TracerProvider, exporters and sampler, a real
OTLP/HTTP receiver or HTTP server on 127.0.0.1, and a fresh subprocess wherever the
environment at start-up matters (a process has one global provider, and the SDK reads
``OTEL_SDK_DISABLED`` when a provider is made).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind, get_current_span
from opentelemetry.util.types import Attributes

import genai_trace
from genai_trace._runtime import state as _runtime
from genai_trace.exporters import InMemoryTraceExporter
from tests.helpers.paths import EXAMPLES, REPO_ROOT
from tests.helpers.servers.otlp_receiver import OTLPReceiver
from tests.helpers.trace_shape import span_tree

# --- helpers ------------------------------------------------------------------------------


def run_child(
    script: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], str]:
    """Run ``script`` in a fresh interpreter; return what it printed last as JSON, and stderr."""
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(EXAMPLES)])
    child_env["GENAI_TRACE_RAISE_INTERNAL_ERRORS"] = "1"
    child_env["GENAI_TRACE_DB"] = str(cwd / "traces.db")
    for name in ("OPENAI_BASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        if env is None or name not in env:
            child_env.pop(name, None)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


# --- item 2: a span reaches the app's OTLP backend once -----------------------------------

APP_EXPORTING_OTLP = """
    import json, logging
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    import genai_trace

    logging.basicConfig(level=logging.INFO)
    # The README's existing-app recipe: the app's own set-up, unchanged.
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

    @genai_trace.trace
    def retrieve(question):
        return ["doc"]

    @genai_trace.trace
    def answer(question):
        return f"{retrieve(question)[0]} says hi"

    tracer = trace.get_tracer("app")
    for n in range(3):
        with tracer.start_as_current_span("GET /ask", kind=trace.SpanKind.SERVER):
            answer(f"q{n}")
    genai_trace.flush(10)
    stats = genai_trace.stats()
    stored = genai_trace.search_traces()
    genai_trace.shutdown()
    provider.shutdown()
    print(json.dumps({
        "destinations": sorted(stats["destinations"]),
        "stored": sorted(info.name for info in stored),
    }))
"""


def test_an_app_exporting_otlp_itself_gets_each_span_once(tmp_path: Path) -> None:
    with OTLPReceiver() as receiver:
        result, stderr = run_child(
            APP_EXPORTING_OTLP, tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        )
        spans, paths = receiver.spans(), receiver.paths()
    counts = Counter(span_id for span_id, _ in spans)
    assert len(counts) == 9  # three requests of three spans
    assert set(counts.values()) == {1}, spans
    assert Counter(name for _, name in spans) == {
        "GET /ask": 3,
        "answer": 3,
        "retrieve": 3,
    }
    assert set(paths) == {"/v1/traces"}
    # genai-trace still keeps whole traces locally, and says why it added no OTLP path.
    assert result == {
        "destinations": ["genai_trace export: SQLiteTraceStore"],
        "stored": ["GET /ask"] * 3,
    }
    assert "already exports over OTLP (OTLPSpanExporter)" in stderr
    assert "GENAI_TRACE_OTLP_ENDPOINT" in stderr


def _provider_with(processor: object, *, concurrent: bool) -> TracerProvider:
    multi = ConcurrentMultiSpanProcessor(2) if concurrent else SynchronousMultiSpanProcessor()
    provider = TracerProvider(active_span_processor=multi, shutdown_on_exit=False)
    provider.add_span_processor(processor)  # type: ignore[arg-type]
    return provider


@pytest.mark.parametrize("concurrent", [False, True], ids=["synchronous", "concurrent"])
@pytest.mark.parametrize("batch", [False, True], ids=["simple", "batch"])
@pytest.mark.parametrize("grpc", [False, True], ids=["http", "grpc"])
def test_an_otlp_exporter_is_found_behind_any_sdk_processor(
    grpc: bool, batch: bool, concurrent: bool
) -> None:
    exporter = (
        GrpcSpanExporter("http://127.0.0.1:1", insecure=True)
        if grpc
        else HttpSpanExporter("http://127.0.0.1:1")
    )
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider = _provider_with(processor, concurrent=concurrent)
    plain = _provider_with(SimpleSpanProcessor(InMemorySpanExporter()), concurrent=concurrent)
    try:
        assert _runtime.app_otlp_exporter(provider) is exporter
        assert _runtime.app_otlp_exporter(plain) is None
    finally:
        provider.shutdown()
        plain.shutdown()


def destinations() -> list[str]:
    return sorted(genai_trace.stats()["destinations"])


def test_only_an_endpoint_given_to_genai_trace_adds_a_second_otlp_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    provider = _provider_with(
        BatchSpanProcessor(HttpSpanExporter("http://127.0.0.1:1")), concurrent=False
    )
    db = str(tmp_path / "t.db")
    try:
        genai_trace.configure(tracer_provider=provider, db_path=db)
        assert destinations() == ["genai_trace export: SQLiteTraceStore"]
        # An endpoint of genai-trace's own always wins: the user asked for both paths.
        genai_trace.configure(tracer_provider=provider, db_path=db, otlp_endpoint="http://h:1")
        assert destinations() == [
            "genai_trace export: OTLP http://h:1",
            "genai_trace export: SQLiteTraceStore",
        ]
        monkeypatch.setenv("GENAI_TRACE_OTLP_ENDPOINT", "http://h:1")
        genai_trace.configure(tracer_provider=provider, db_path=db)
        assert len(destinations()) == 2
        # An app that exports elsewhere than OTLP: the standard variables are genai-trace's.
        monkeypatch.delenv("GENAI_TRACE_OTLP_ENDPOINT")
        genai_trace.configure(tracer_provider=TracerProvider(), db_path=db)
        assert len(destinations()) == 2
    finally:
        genai_trace.shutdown()
        provider.shutdown()


# --- item 3: the first request is taken in although the app's span started before us ------

ZERO_CONFIG_FASTAPI = """
    import json
    import httpx
    from fastapi import FastAPI
    from fastapi_app import run_server, setup_app_tracing
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    import genai_trace

    provider, app_exporter = setup_app_tracing()  # no genai_trace.configure: zero config

    @genai_trace.trace
    async def answer(question):
        return question.upper()

    app = FastAPI()

    @app.get("/ask")
    async def ask(q: str):
        reply = await answer(q)
        genai_trace.update_current_trace(request_preview=q, response_preview=reply)
        return {"answer": reply}

    FastAPIInstrumentor.instrument_app(app)
    with run_server(app) as url, httpx.Client(base_url=url) as http:
        replies = [http.get("/ask", params={"q": q}, timeout=10).json() for q in ("one", "two")]
    traces = [genai_trace.get_trace(i.trace_id) for i in genai_trace.search_traces()]
    print(json.dumps({
        "replies": replies,
        "traces": sorted(
            [t.info.request_preview, t.info.response_preview, t.info.complete,
             t.info.incomplete_reason, t.info.name, [s.name for s, _ in t.walk()],
             len({s.trace_id for s in t.spans})]
            for t in traces
        ),
        "app_spans": len(app_exporter.get_finished_spans()),
    }))
"""


@pytest.mark.slow
def test_the_first_request_is_stored_with_zero_configuration(tmp_path: Path) -> None:
    result, _ = run_child(ZERO_CONFIG_FASTAPI, tmp_path)
    assert result["replies"] == [{"answer": "ONE"}, {"answer": "TWO"}]

    def request(question: str, complete: bool) -> list[Any]:
        return [
            question,
            question.upper(),
            complete,
            None if complete else "started_before_setup",
            "GET /ask",
            ["GET /ask", "answer", "GET /ask http send", "GET /ask http send"],
            1,
        ]

    # The first request was open before genai-trace set itself up: marked, as it may lack
    # spans that ended before (none here, a GET has no body to receive).
    assert result["traces"] == [request("one", False), request("two", True)]
    assert result["app_spans"] == 8


SPAN_ENDED_BEFORE_SETUP = """
    import json, sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    import genai_trace

    trace.set_tracer_provider(TracerProvider())
    if sys.argv[1] == "configure":
        genai_trace.configure()  # at start-up, right after the app's OpenTelemetry set-up
    tracer = trace.get_tracer("app")

    @genai_trace.trace
    def answer(question):
        return question.upper()

    for question in ("one", "two"):
        with tracer.start_as_current_span("request"):
            with tracer.start_as_current_span("auth"):
                pass  # ends before the first @trace span sets genai-trace up
            answer(question)
            genai_trace.update_current_trace(request_preview=question)
    print(json.dumps([
        [info.request_preview, info.complete, info.incomplete_reason,
         [s.name for s, _ in genai_trace.get_trace(info.trace_id).walk()]]
        for info in genai_trace.search_traces(order_by="start_time", descending=False)
    ]))
"""


def test_a_request_open_before_setup_is_marked_for_the_spans_it_lacks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SPAN_ENDED_BEFORE_SETUP), "zero-config"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "GENAI_TRACE_DB": str(tmp_path / "z.db")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    # "auth" of the first request ended before genai-trace listened: lost, and said so.
    assert json.loads(result.stdout) == [
        ["one", False, "started_before_setup", ["request", "answer"]],
        ["two", True, None, ["request", "auth", "answer"]],
    ]


def test_configure_at_start_up_makes_the_first_request_whole(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SPAN_ENDED_BEFORE_SETUP), "configure"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "GENAI_TRACE_DB": str(tmp_path / "c.db")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [
        ["one", True, None, ["request", "auth", "answer"]],
        ["two", True, None, ["request", "auth", "answer"]],
    ]


def test_pre_existing_ancestors_are_awaited_up_to_the_root(
    exporter: InMemoryTraceExporter,
) -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("request"), tracer.start_as_current_span("handler"):
        # genai-trace starts listening in the middle of the request, as at its first span.
        genai_trace.configure(tracer_provider=provider, exporters=[exporter])
        with genai_trace.start_span("step"):
            pass
        genai_trace.update_current_trace(request_preview="in", response_preview="out")
        assert exporter.get_finished_traces() == []  # the request is still running
    genai_trace.flush(10)
    (trace,) = exporter.get_finished_traces()
    assert span_tree(trace) == [(0, "request", "UNKNOWN"), (1, "handler", "UNKNOWN"),
                                (2, "step", "CHAIN")]  # fmt: skip
    # Open before genai-trace listened, so it may lack spans that ended before: marked.
    assert (trace.info.name, trace.info.complete, trace.info.incomplete_reason) == (
        "request",
        False,
        "started_before_setup",
    )
    assert (trace.info.request_preview, trace.info.response_preview) == ("in", "out")


def test_a_parent_of_another_provider_is_not_waited_for(exporter: InMemoryTraceExporter) -> None:
    ours, theirs = TracerProvider(), TracerProvider()
    genai_trace.configure(tracer_provider=ours, exporters=[exporter])
    with theirs.get_tracer("app").start_as_current_span("elsewhere"):
        with genai_trace.start_span("step"):
            pass
        genai_trace.flush(10)
        # Exported as soon as its spans ended: "elsewhere" can never reach this assembler.
        (trace,) = exporter.get_finished_traces()
    assert [s.name for s in trace.spans] == ["step"]
    assert trace.info.incomplete_reason == "late_span"


# --- item 4: OTEL_SDK_DISABLED --------------------------------------------------------------

SDK_DISABLED = """
    import json, os
    import genai_trace

    @genai_trace.trace
    def double(x):
        return 2 * x

    @genai_trace.trace
    def count(n):
        yield from range(n)

    client = genai_trace.TraceClient()
    root = client.start_trace("workflow", inputs={"q": 1}, tags={"env": "test"})
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    grandchild = client.start_span("inner", trace_id=child.trace_id, parent_id=child.span_id)
    client.end_span(trace_id=grandchild.trace_id, span_id=grandchild.span_id, outputs=1)
    client.end_span(trace_id=child.trace_id, span_id=child.span_id, outputs=2)
    client.end_trace(trace_id=root.trace_id, outputs="done")
    given = client.start_trace("given", trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    client.end_trace(trace_id=given.trace_id)
    with genai_trace.start_span("block") as span:
        span.set_outputs(double(21))
        genai_trace.update_current_trace(request_preview="x")
    genai_trace.flush(10)
    print(json.dumps({
        "trace_ids": [root.trace_id, child.trace_id, grandchild.trace_id, given.trace_id],
        "span_ids": [root.span_id, child.span_id, grandchild.span_id],
        "results": [double(4), list(count(3))],
        "last": genai_trace.get_last_trace_id(),
        "stored": os.path.exists(os.environ["GENAI_TRACE_DB"])
        and [i.trace_id for i in genai_trace.search_traces()],
    }))
"""


def test_with_the_sdk_disabled_the_app_runs_as_untraced(tmp_path: Path) -> None:
    result, stderr = run_child(SDK_DISABLED, tmp_path, {"OTEL_SDK_DISABLED": "true"})
    root_trace = result["trace_ids"][0]
    assert result["trace_ids"] == [root_trace] * 3 + ["4bf92f3577b34da6a3ce929d0e0e4736"]
    assert len(set(result["span_ids"])) == 3
    assert result["results"] == [8, [0, 1, 2]]
    assert result["last"] is None
    assert result["stored"] in (False, [])
    assert "Traceback" not in stderr


# --- item 5: GENAI_TRACE_DISABLED and disable() reach the assembler --------------------------

DISABLED_AUTOLOG = """
    import json, os
    import openai
    from tests.helpers.servers.openai_server import serve
    import genai_trace

    def ask(client, text):
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        ).choices[0].message.content

    @genai_trace.trace
    def answer(client, text):
        return ask(client, text)

    with serve() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        assert genai_trace.autolog("openai") == ["openai"]
        replies = [ask(client, "plain"), answer(client, "decorated")]
        genai_trace.flush(10)
        while_disabled = os.path.exists(os.environ["GENAI_TRACE_DB"])
        genai_trace.enable()
        replies.append(ask(client, "again"))
        genai_trace.flush(10)
        after_enable = [i.name for i in genai_trace.search_traces()]
    print(json.dumps({"replies": len(replies), "while_disabled": while_disabled,
                      "after_enable": after_enable}))
"""


@pytest.mark.slow
def test_genai_trace_disabled_stores_nothing_with_autolog_until_enabled(tmp_path: Path) -> None:
    result, _ = run_child(DISABLED_AUTOLOG, tmp_path, {"GENAI_TRACE_DISABLED": "true"})
    # While disabled, not even the store's file was made.
    assert result == {"replies": 3, "while_disabled": False, "after_enable": ["chat gpt-4o-mini"]}


def test_disable_keeps_spans_of_other_instrumentations_out_too(
    exporter: InMemoryTraceExporter,
) -> None:
    provider = TracerProvider()
    genai_trace.configure(tracer_provider=provider, exporters=[exporter])
    tracer = provider.get_tracer("llm-client")
    genai_trace.disable()
    with tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}):
        pass
    genai_trace.flush(10)
    assert exporter.get_finished_traces() == []
    assert genai_trace.stats()["traces_in_assembly"] == 0
    genai_trace.enable()
    with tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}):
        pass
    genai_trace.flush(10)
    assert [t.info.name for t in exporter.get_finished_traces()] == ["chat"]


# --- item 6: the app's sampler ---------------------------------------------------------------


class RecordOnlyForSome(Sampler):
    """RECORD_ONLY for roots named ``background*``, RECORD_AND_SAMPLE for the rest."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        """Children follow their parent, as ``ParentBased`` does, keeping RECORD_ONLY."""
        parent = get_current_span(parent_context).get_span_context()
        sampled = parent.trace_flags.sampled if parent.is_valid else not name.startswith("back")
        decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.RECORD_ONLY
        return SamplingResult(decision, attributes)

    def get_description(self) -> str:
        return "RecordOnlyForSome"


def app_with_sampler(sampler: Sampler) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider(sampler=sampler)
    app_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    return provider, app_exporter


def test_record_only_traces_are_not_assembled_or_exported(
    exporter: InMemoryTraceExporter,
) -> None:
    provider, app_exporter = app_with_sampler(RecordOnlyForSome())
    genai_trace.configure(tracer_provider=provider, exporters=[exporter])

    @genai_trace.trace
    def step() -> int:
        return 1

    for name in ("background job", "request", "background job"):
        with genai_trace.start_span(name) as span:
            assert span.is_recording()
            step()
    genai_trace.flush(10)
    assert [span_tree(t) for t in exporter.get_finished_traces()] == [
        [(0, "request", "CHAIN"), (1, "step", "CHAIN")]
    ]
    assert {s.name for s in app_exporter.get_finished_spans()} == {"request", "step"}
    stats = genai_trace.stats()
    assert stats["traces_in_assembly"] == 0
    assert stats["traces_completed"] == 1
    assert (stats["traces_evicted"], stats["traces_timed_out"]) == (0, 0)


def test_parent_based_ratio_sampling_exports_exactly_the_sampled_traces(
    exporter: InMemoryTraceExporter,
) -> None:
    provider, app_exporter = app_with_sampler(ParentBased(TraceIdRatioBased(0.5)))
    genai_trace.configure(tracer_provider=provider, exporters=[exporter])

    @genai_trace.trace
    def step() -> int:
        return 1

    for _ in range(40):
        with genai_trace.start_span("request"):
            step()
    genai_trace.flush(10)
    sampled = {format(s.context.trace_id, "032x") for s in app_exporter.get_finished_spans()}
    assert 0 < len(sampled) < 40
    traces = exporter.get_finished_traces()
    assert {t.info.trace_id for t in traces} == sampled
    assert all(span_tree(t) == [(0, "request", "CHAIN"), (1, "step", "CHAIN")] for t in traces)


@pytest.fixture(autouse=True)
def _no_provider_leak() -> Iterator[None]:
    yield
    genai_trace.enable()
