"""TraceClient: each call, each misuse, threads, timestamps and the timeout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

import genai_trace
from genai_trace import SpanType, TraceClient
from genai_trace._api.client import ENDED_BY_END_TRACE, FINISHED_MEMORY
from genai_trace._semantics.model import Trace
from genai_trace.exporters import InMemoryTraceExporter

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
UNKNOWN_SPAN = "00f067aa0ba902b7"


def exported(exporter: InMemoryTraceExporter) -> list[Trace]:
    assert genai_trace.flush(10)
    return exporter.get_finished_traces()


def only_trace(exporter: InMemoryTraceExporter) -> Trace:
    traces = exported(exporter)
    assert len(traces) == 1, [t.info.name for t in traces]
    return traces[0]


def shape(trace: Trace) -> list[tuple[Any, ...]]:
    """Every span as (name, parent name, type, inputs, outputs, status, message)."""
    names = {s.span_id: s.name for s in trace.spans}
    return [
        (
            s.name,
            names.get(s.parent_id) if s.parent_id else None,
            s.span_type,
            s.inputs,
            s.outputs,
            s.status,
            s.status_message,
        )
        for s in trace.spans
    ]


@pytest.fixture(autouse=True)
def no_context_leak() -> Iterator[None]:
    yield
    assert not trace_api.get_current_span().get_span_context().is_valid, "a span was left current"


@pytest.fixture
def client() -> TraceClient:
    return TraceClient()


def assert_forgotten(client: TraceClient) -> None:
    open_traces, known_spans, _ = client._open_counts()
    assert (open_traces, known_spans) == (0, 0)


# --- the four calls ------------------------------------------------------------------------


def test_seed_workflow_exports_the_exact_tree(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("complex_workflow", inputs={"query": "otlp"})
    child = client.start_span(
        "data_retrieval",
        trace_id=root.trace_id,
        parent_id=root.span_id,
        span_type=SpanType.RETRIEVER,
        inputs={"k": 2},
    )
    grandchild = client.start_span(
        "rerank", trace_id=root.trace_id, parent_id=child.span_id, span_type="MY_RERANKER"
    )
    client.end_span(trace_id=root.trace_id, span_id=grandchild.span_id, outputs=["d2", "d1"])
    client.end_span(trace_id=child.trace_id, span_id=child.span_id, outputs=["d1", "d2"])
    client.end_trace(trace_id=root.trace_id, outputs="OTLP is a protocol.")

    trace = only_trace(exporter)
    assert shape(trace) == [
        (
            "complex_workflow",
            None,
            "CHAIN",
            {"query": "otlp"},
            "OTLP is a protocol.",
            "UNSET",
            None,
        ),
        ("data_retrieval", "complex_workflow", "RETRIEVER", {"k": 2}, ["d1", "d2"], "UNSET", None),
        ("rerank", "data_retrieval", "MY_RERANKER", None, ["d2", "d1"], "UNSET", None),
    ]
    assert [s.span_id for s in trace.spans] == [root.span_id, child.span_id, grandchild.span_id]
    assert {s.trace_id for s in trace.spans} == {root.trace_id}
    assert (child.parent_id, grandchild.parent_id) == (root.span_id, child.span_id)
    info = trace.info
    assert (info.trace_id, info.name, info.state, info.complete) == (
        root.trace_id,
        "complex_workflow",
        "OK",
        True,
    )
    assert (info.request_preview, info.response_preview, info.span_count) == (
        "otlp",
        "OTLP is a protocol.",
        3,
    )
    assert_forgotten(client)


def test_start_trace_returns_an_open_root(client: TraceClient) -> None:
    root = client.start_trace("job", span_type=SpanType.AGENT)
    assert root.is_recording()
    assert (root.name, root.span_type, root.parent_id) == ("job", "AGENT", None)
    assert len(root.trace_id) == 32 and len(root.span_id) == 16
    client.end_trace(trace_id=root.trace_id)
    assert not root.is_recording()


@pytest.mark.parametrize("given", [TRACE_ID, TRACE_ID.upper()])
def test_a_caller_trace_id_becomes_the_otel_trace_id(
    client: TraceClient, exporter: InMemoryTraceExporter, given: str
) -> None:
    root = client.start_trace("job", trace_id=given)
    child = client.start_span("step", trace_id=given, parent_id=root.span_id)
    assert root.trace_id == child.trace_id == TRACE_ID
    assert root.otel_span.get_span_context().trace_id == int(TRACE_ID, 16)
    with genai_trace.use_span(child):
        assert genai_trace.inject({})["traceparent"].startswith(f"00-{TRACE_ID}-{child.span_id}-")
    client.end_span(trace_id=given, span_id=child.span_id.upper())
    client.end_trace(trace_id=given)
    assert only_trace(exporter).info.trace_id == TRACE_ID


def test_caller_trace_id_is_used_once_per_start(client: TraceClient) -> None:
    forced = client.start_trace("forced", trace_id=TRACE_ID)
    other = client.start_trace("random")  # the forced id does not leak into the next trace
    assert other.trace_id != TRACE_ID
    with genai_trace.start_span("fluent") as fluent:
        assert fluent.trace_id not in (TRACE_ID, other.trace_id)
    client.end_trace(trace_id=forced.trace_id)
    client.end_trace(trace_id=other.trace_id)


def test_client_request_id_tags_and_metadata_are_trace_facts(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace(
        "chat_turn",
        client_request_id="req-42",
        tags={"env": "prod"},
        metadata={"tenant": "acme", "n": 3},
        attributes={"app.version": "1.2"},
    )
    client.end_trace(trace_id=root.trace_id, attributes={"app.result": "ok"})
    trace = only_trace(exporter)
    info = trace.info
    assert info.client_request_id == "req-42"
    assert info.tags == {"env": "prod"}
    assert info.metadata == {"tenant": "acme", "n": 3}
    attributes = dict(trace.spans[0].attributes)
    assert attributes.pop("genai_trace.trace.client_request_id") == "req-42"
    assert (attributes.pop("app.version"), attributes.pop("app.result")) == ("1.2", "ok")
    found = genai_trace.get_trace("req-42")
    assert found is not None and found.info.trace_id == root.trace_id


def test_explicit_timestamps_replay_events(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    t0 = 1_700_000_000_000_000_000
    root = client.start_trace("replayed", start_time_ns=t0)
    child = client.start_span(
        "step", trace_id=root.trace_id, parent_id=root.span_id, start_time_ns=t0 + 1_000
    )
    client.end_span(trace_id=root.trace_id, span_id=child.span_id, end_time_ns=t0 + 5_000)
    client.end_trace(trace_id=root.trace_id, end_time_ns=t0 + 9_000)
    trace = only_trace(exporter)
    assert [(s.name, s.start_time_ns, s.end_time_ns) for s in trace.spans] == [
        ("replayed", t0, t0 + 9_000),
        ("step", t0 + 1_000, t0 + 5_000),
    ]
    assert (trace.info.start_time_ns, trace.info.end_time_ns) == (t0, t0 + 9_000)
    assert trace.info.duration_ms == 0.009


def test_end_before_start_is_refused_and_changes_nothing(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job", start_time_ns=2_000)
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    start = child.otel_span.start_time  # type: ignore[attr-defined]
    with pytest.raises(
        ValueError, match=f"end_time_ns=5 is before the start of span {child.span_id}"
    ):
        client.end_span(trace_id=root.trace_id, span_id=child.span_id, end_time_ns=5)
    with pytest.raises(ValueError, match="before the start of span"):
        client.end_trace(trace_id=root.trace_id, end_time_ns=1_999, end_open_spans=True)
    client.end_span(trace_id=root.trace_id, span_id=child.span_id, end_time_ns=start)
    client.end_trace(trace_id=root.trace_id, end_time_ns=start)
    assert [s.end_time_ns for s in only_trace(exporter).spans] == [start, start]


@pytest.mark.parametrize(
    ("status", "description", "expected"),
    [
        ("OK", None, ("OK", None)),
        ("error", "rate limited", ("ERROR", "rate limited")),
        (StatusCode.ERROR, "boom", ("ERROR", "boom")),
        (Status(StatusCode.ERROR, "from status"), None, ("ERROR", "from status")),
        ("UNSET", None, ("UNSET", None)),
    ],
)
def test_end_status(
    client: TraceClient,
    exporter: InMemoryTraceExporter,
    status: Any,
    description: str | None,
    expected: tuple[str, str | None],
) -> None:
    root = client.start_trace("job")
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    client.end_span(
        trace_id=root.trace_id,
        span_id=child.span_id,
        status=status,
        status_description=description,
    )
    client.end_trace(trace_id=root.trace_id, status=status, status_description=description)
    trace = only_trace(exporter)
    assert [(s.status, s.status_message) for s in trace.spans] == [expected, expected]
    assert trace.info.state == ("ERROR" if expected[0] == "ERROR" else "OK")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"status": "FAILED"}, ValueError, "must be 'OK', 'ERROR', 'UNSET'"),
        ({"status_description": "why"}, ValueError, "status_description needs status='ERROR'"),
        ({"status": "ERROR", "status_description": 3}, TypeError, "must be a str"),
        ({"attributes": ["a"]}, TypeError, "attributes=...\\) must be a mapping"),
        ({"end_time_ns": 1.5}, TypeError, "must be an int of ns"),
        ({"end_time_ns": -1}, ValueError, "must not be negative"),
    ],
)
def test_bad_end_arguments_raise_before_anything_changes(
    client: TraceClient,
    exporter: InMemoryTraceExporter,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    root = client.start_trace("job")
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    with pytest.raises(error, match=message):
        client.end_span(trace_id=root.trace_id, span_id=child.span_id, **kwargs)
    with pytest.raises(error, match=message):
        client.end_trace(trace_id=root.trace_id, end_open_spans=True, **kwargs)
    client.end_span(trace_id=root.trace_id, span_id=child.span_id)
    client.end_trace(trace_id=root.trace_id)
    assert only_trace(exporter).info.span_count == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.start_trace(3), "start_trace\\(\\) name must be a str"),
        (lambda c: c.start_trace("x", span_type=3), "span_type must be a SpanType"),
        (lambda c: c.start_trace("x", attributes=[1]), "attributes must be a mapping"),
        (lambda c: c.start_trace("x", tags="prod"), "tags must be a mapping or a list"),
        (lambda c: c.start_trace("x", metadata=[1]), "metadata=...\\) must be a mapping"),
        (lambda c: c.start_trace("x", client_request_id=7), "client_request_id=...\\) must be"),
        (lambda c: c.start_trace("x", start_time_ns="now"), "start_time_ns=...\\) must be an int"),
    ],
)
def test_bad_start_arguments_raise_type_errors(
    client: TraceClient, call: Callable[[TraceClient], Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        call(client)
    assert client._open_counts() == (0, 0, 0)


def test_attributes_and_inputs_on_spans(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job", attributes={"team": "search", "skip": None})
    child = client.start_span(
        "llm",
        trace_id=root.trace_id,
        parent_id=root.span_id,
        span_type=SpanType.LLM,
        inputs=[{"role": "user", "content": "hi"}],
        attributes={"llm.model_name": "gpt-x", "config": {"t": 0}},
    )
    child.set_token_usage(input_tokens=3, output_tokens=2)
    client.end_span(
        trace_id=root.trace_id,
        span_id=child.span_id,
        outputs={"role": "assistant", "content": "hello"},
        attributes={"finish": "stop"},
    )
    client.end_trace(trace_id=root.trace_id)
    trace = only_trace(exporter)
    llm = trace.get_span("llm")
    assert llm is not None
    assert llm.inputs == [{"role": "user", "content": "hi"}]
    assert llm.outputs == {"role": "assistant", "content": "hello"}
    assert (llm.attributes["config"], llm.attributes["finish"], llm.model) == (
        '{"t":0}',
        "stop",
        "gpt-x",
    )
    assert "skip" not in trace.spans[0].attributes
    assert trace.info.token_usage is not None and trace.info.token_usage.total_tokens == 5
    assert trace.info.request_preview is None


# --- the current context -----------------------------------------------------------------


def test_client_spans_do_not_become_current(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("client_trace")
    child = client.start_span("client_step", trace_id=root.trace_id, parent_id=root.span_id)
    assert not genai_trace.get_current_span().otel_span.get_span_context().is_valid
    with genai_trace.start_span("fluent_trace") as fluent:
        client.start_span("client_under_root", trace_id=root.trace_id, parent_id=root.span_id)
    assert fluent.trace_id != root.trace_id
    assert fluent.parent_id is None
    client.end_trace(trace_id=root.trace_id, end_open_spans=True)
    traces = exported(exporter)
    assert sorted(t.info.name for t in traces) == ["client_trace", "fluent_trace"]
    client_trace = next(t for t in traces if t.info.name == "client_trace")
    assert [s.name for s in client_trace.spans] == [
        "client_trace",
        "client_step",
        "client_under_root",
    ]
    assert child.parent_id == root.span_id


def test_a_trace_started_inside_a_current_span_is_a_root_of_its_own(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    with genai_trace.start_span("request") as request:
        root = client.start_trace("job")
    client.end_trace(trace_id=root.trace_id)
    assert root.parent_id is None and root.trace_id != request.trace_id
    assert sorted(t.info.name for t in exported(exporter)) == ["job", "request"]


def test_use_span_nests_fluent_spans_under_a_client_span(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    @genai_trace.trace(span_type=SpanType.TOOL)
    def lookup(key: str) -> str:
        return key.upper()

    root = client.start_trace("workflow")
    agent = client.start_span(
        "agent", trace_id=root.trace_id, parent_id=root.span_id, span_type=SpanType.AGENT
    )
    with genai_trace.use_span(agent) as current:
        assert current.span_id == agent.span_id
        assert genai_trace.get_current_span().span_id == agent.span_id
        with genai_trace.start_span("plan", inputs="q"):
            lookup("a")
    assert not genai_trace.get_current_span().otel_span.get_span_context().is_valid
    assert agent.is_recording()  # use_span does not end a client span
    client.end_span(trace_id=root.trace_id, span_id=agent.span_id, outputs="A")
    client.end_trace(trace_id=root.trace_id)
    assert shape(only_trace(exporter)) == [
        ("workflow", None, "CHAIN", None, None, "UNSET", None),
        ("agent", "workflow", "AGENT", None, "A", "UNSET", None),
        ("plan", "agent", "CHAIN", "q", None, "UNSET", None),
        ("lookup", "plan", "TOOL", {"key": "a"}, "A", "UNSET", None),
    ]


def test_the_trace_waits_for_fluent_spans_still_open_at_end_trace(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("workflow")
    with genai_trace.use_span(root):
        late = trace_api.get_tracer("other.library").start_span("still_running")
    client.end_trace(trace_id=root.trace_id)
    assert exported(exporter) == []
    late.end()
    assert [s.name for s in only_trace(exporter).spans] == ["workflow", "still_running"]


def test_use_span_end_on_exit_records_the_error(exporter: InMemoryTraceExporter) -> None:
    tracer = trace_api.get_tracer("test")
    span = tracer.start_span("foreign")
    with pytest.raises(KeyError), genai_trace.use_span(span, end_on_exit=True):
        raise KeyError("k")
    assert not span.is_recording()
    with genai_trace.use_span("not a span") as current:  # type: ignore[arg-type]  # warned
        assert not current.is_recording()


def test_context_scope_applies_to_client_traces(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    with genai_trace.context(session_id="chat-1", user_id="ada", tags={"env": "test"}):
        root = client.start_trace("turn")
    client.end_trace(trace_id=root.trace_id)
    info = only_trace(exporter).info
    assert (info.session_id, info.user_id, info.tags) == ("chat-1", "ada", {"env": "test"})


# --- tree shapes that are allowed ---------------------------------------------------------


def test_a_child_may_start_under_an_ended_span(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job")
    step = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    client.end_span(trace_id=root.trace_id, span_id=step.span_id)
    follow_up = client.start_span("follow_up", trace_id=root.trace_id, parent_id=step.span_id)
    client.end_span(trace_id=root.trace_id, span_id=follow_up.span_id)
    client.end_trace(trace_id=root.trace_id)
    assert [(s.name, s.parent_id) for s in only_trace(exporter).spans] == [
        ("job", None),
        ("step", root.span_id),
        ("follow_up", step.span_id),
    ]


def test_a_span_may_end_before_its_children(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job")
    parent = client.start_span("parent", trace_id=root.trace_id, parent_id=root.span_id)
    child = client.start_span("child", trace_id=root.trace_id, parent_id=parent.span_id)
    client.end_span(trace_id=root.trace_id, span_id=parent.span_id)
    client.end_span(trace_id=root.trace_id, span_id=child.span_id)
    client.end_trace(trace_id=root.trace_id)
    assert [s.name for s in only_trace(exporter).spans] == ["job", "parent", "child"]


def test_two_traces_are_independent(client: TraceClient, exporter: InMemoryTraceExporter) -> None:
    a = client.start_trace("a")
    b = client.start_trace("b")
    a1 = client.start_span("a1", trace_id=a.trace_id, parent_id=a.span_id)
    client.end_trace(trace_id=b.trace_id)
    client.end_span(trace_id=a.trace_id, span_id=a1.span_id)
    client.end_trace(trace_id=a.trace_id)
    traces = exported(exporter)
    assert [[s.name for s in t.spans] for t in traces] == [["b"], ["a", "a1"]]


# --- misuse ------------------------------------------------------------------------------


MALFORMED = [
    ("123", "3 characters, not all hex digits"),
    ("g" * 32, "not all hex digits"),
    ("0" * 32, "all zeros"),
    ("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "use client_request_id"),
    (0x4BF92F3577B34DA6A3CE929D0E0E4736, "of type int, not str"),
    (" " + TRACE_ID[1:], "not all hex digits"),
]


@pytest.mark.parametrize(("bad", "problem"), MALFORMED)
def test_malformed_trace_ids(client: TraceClient, bad: Any, problem: str) -> None:
    root = client.start_trace("job")
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("start_trace", lambda: client.start_trace("x", trace_id=bad)),
        ("start_span", lambda: client.start_span("x", trace_id=bad, parent_id=root.span_id)),
        ("end_span", lambda: client.end_span(trace_id=bad, span_id=root.span_id)),
        ("end_trace", lambda: client.end_trace(trace_id=bad)),
    ]
    for name, call in calls:
        with pytest.raises(genai_trace.MalformedIdError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{name}: trace_id {bad!r} is not a trace id (32 hex digits)")
        assert problem in message
        assert isinstance(info.value, ValueError)
    assert client._open_counts()[0] == 1
    client.end_trace(trace_id=root.trace_id)


def test_a_malformed_id_is_named_before_any_other_bad_argument(client: TraceClient) -> None:
    root = client.start_trace("job")
    calls: list[Callable[[], Any]] = [
        lambda: client.start_span("x", trace_id="bad", parent_id=root.span_id, attributes=[1]),
        lambda: client.start_span("x", trace_id=root.trace_id, parent_id=None, start_time_ns=-1),
        lambda: client.end_span(trace_id=root.trace_id, span_id=None, status="bogus"),
        lambda: client.end_trace(trace_id="bad", end_time_ns=-1),
    ]
    for call in calls:
        with pytest.raises(genai_trace.MalformedIdError):
            call()
    client.end_trace(trace_id=root.trace_id)


def test_a_bad_ids_repr_runs_outside_the_clients_lock(client: TraceClient) -> None:
    class RequestId:  # an app's id wrapper whose repr looks into the client
        def __repr__(self) -> str:
            return f"RequestId(open={client._open_counts()[0]})"

    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.end_trace(trace_id=RequestId())  # type: ignore[arg-type]
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the client deadlocked on its own lock"
    assert [type(e) for e in outcome] == [genai_trace.MalformedIdError]
    assert "RequestId(open=0)" in str(outcome[0])


@pytest.mark.parametrize("bad", ["00f067aa", "0" * 16, "x" * 16, 17, None])
def test_malformed_span_ids(client: TraceClient, bad: Any) -> None:
    root = client.start_trace("job")
    with pytest.raises(genai_trace.MalformedIdError, match=r"start_span: parent_id .* \(16 hex"):
        client.start_span("x", trace_id=root.trace_id, parent_id=bad)
    with pytest.raises(genai_trace.MalformedIdError, match=r"end_span: span_id .* \(16 hex"):
        client.end_span(trace_id=root.trace_id, span_id=bad)
    client.end_trace(trace_id=root.trace_id)


def test_unknown_trace(client: TraceClient) -> None:
    message = f"trace {TRACE_ID} was not started by this TraceClient"
    with pytest.raises(genai_trace.TraceNotFoundError, match=f"start_span: {message}"):
        client.start_span("x", trace_id=TRACE_ID, parent_id=UNKNOWN_SPAN)
    with pytest.raises(genai_trace.TraceNotFoundError, match=f"end_span: {message}"):
        client.end_span(trace_id=TRACE_ID, span_id=UNKNOWN_SPAN)
    with pytest.raises(genai_trace.TraceNotFoundError, match=f"end_trace: {message}"):
        client.end_trace(trace_id=TRACE_ID)
    # Another client's trace is unknown too: each client keeps its own registry.
    root = TraceClient().start_trace("elsewhere")
    with pytest.raises(genai_trace.TraceNotFoundError):
        client.end_trace(trace_id=root.trace_id)


def test_unknown_span(client: TraceClient) -> None:
    root = client.start_trace("job")
    tid = root.trace_id
    with pytest.raises(
        genai_trace.SpanNotFoundError,
        match=f"start_span: parent span {UNKNOWN_SPAN} is not a span of trace {tid}",
    ):
        client.start_span("x", trace_id=tid, parent_id=UNKNOWN_SPAN)
    with pytest.raises(
        genai_trace.SpanNotFoundError, match=f"end_span: span {UNKNOWN_SPAN} is not a span"
    ):
        client.end_span(trace_id=tid, span_id=UNKNOWN_SPAN)
    client.end_trace(trace_id=tid)


def test_ending_a_span_twice(client: TraceClient, exporter: InMemoryTraceExporter) -> None:
    root = client.start_trace("job")
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    client.end_span(trace_id=root.trace_id, span_id=child.span_id, outputs=1)
    with pytest.raises(
        genai_trace.AlreadyEndedError,
        match=f"end_span: span {child.span_id} of trace {root.trace_id} already ended",
    ):
        client.end_span(trace_id=root.trace_id, span_id=child.span_id, outputs=2)
    client.end_trace(trace_id=root.trace_id)
    assert only_trace(exporter).spans[1].outputs == 1


def test_ending_a_trace_twice_or_using_it_after_its_end(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job")
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    client.end_span(trace_id=root.trace_id, span_id=child.span_id)
    client.end_trace(trace_id=root.trace_id)
    message = f"trace {root.trace_id} is not open: it already ended"
    with pytest.raises(genai_trace.AlreadyEndedError, match=f"end_trace: {message}"):
        client.end_trace(trace_id=root.trace_id)
    with pytest.raises(genai_trace.AlreadyEndedError, match=f"start_span: {message}"):
        client.start_span("late", trace_id=root.trace_id, parent_id=root.span_id)
    with pytest.raises(genai_trace.AlreadyEndedError, match=f"end_span: {message}"):
        client.end_span(trace_id=root.trace_id, span_id=child.span_id)
    assert len(exported(exporter)) == 1
    assert_forgotten(client)


def test_a_parent_from_another_trace(client: TraceClient) -> None:
    a = client.start_trace("a")
    b = client.start_trace("b")
    b1 = client.start_span("b1", trace_id=b.trace_id, parent_id=b.span_id)
    for span in (b, b1):
        with pytest.raises(
            genai_trace.WrongTraceError,
            match=f"start_span: parent span {span.span_id} belongs to trace {b.trace_id}, "
            f"not to trace {a.trace_id}",
        ):
            client.start_span("x", trace_id=a.trace_id, parent_id=span.span_id)
    with pytest.raises(genai_trace.WrongTraceError, match=f"end_span: span {b1.span_id} belongs"):
        client.end_span(trace_id=a.trace_id, span_id=b1.span_id)
    client.end_trace(trace_id=a.trace_id)
    client.end_trace(trace_id=b.trace_id, end_open_spans=True)


def test_end_span_on_the_root_points_to_end_trace(client: TraceClient) -> None:
    root = client.start_trace("job")
    with pytest.raises(genai_trace.RootSpanError, match=r"is the root of trace .* end_trace"):
        client.end_span(trace_id=root.trace_id, span_id=root.span_id)
    client.end_trace(trace_id=root.trace_id)


def test_duplicate_trace_id_while_open(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("first", trace_id=TRACE_ID)
    with pytest.raises(
        genai_trace.DuplicateTraceError, match=f"start_trace: trace {TRACE_ID} is already open"
    ):
        client.start_trace("second", trace_id=TRACE_ID.upper())
    client.end_trace(trace_id=root.trace_id)
    again = client.start_trace("reused", trace_id=TRACE_ID)  # a finished id may be reused
    client.end_trace(trace_id=again.trace_id)
    assert [t.info.name for t in exported(exporter)] == ["first", "reused"]


def test_end_trace_refuses_while_client_spans_are_open(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job")
    a = client.start_span("a", trace_id=root.trace_id, parent_id=root.span_id)
    b = client.start_span("b", trace_id=root.trace_id, parent_id=a.span_id)
    with pytest.raises(genai_trace.OpenSpansError) as info:
        client.end_trace(trace_id=root.trace_id)
    assert str(info.value) == (
        f"end_trace: trace {root.trace_id} still has 2 open span(s): {a.span_id} (a), "
        f"{b.span_id} (b); end them with end_span first, or pass end_open_spans=True"
    )
    assert root.is_recording() and exported(exporter) == []
    client.end_span(trace_id=root.trace_id, span_id=b.span_id)
    client.end_span(trace_id=root.trace_id, span_id=a.span_id)
    client.end_trace(trace_id=root.trace_id)
    assert only_trace(exporter).info.span_count == 3


def test_end_open_spans_ends_them_with_a_marker(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job", start_time_ns=1_000)
    open_one = client.start_span("forgotten", trace_id=root.trace_id, parent_id=root.span_id)
    done = client.start_span("done", trace_id=root.trace_id, parent_id=root.span_id)
    client.end_span(trace_id=root.trace_id, span_id=done.span_id, status="OK")
    end = time.time_ns() + 1_000_000
    client.end_trace(trace_id=root.trace_id, outputs="ok", end_time_ns=end, end_open_spans=True)
    trace = only_trace(exporter)
    assert [(s.name, s.status, s.status_message) for s in trace.spans] == [
        ("job", "UNSET", None),
        ("forgotten", "ERROR", ENDED_BY_END_TRACE),
        ("done", "OK", None),
    ]
    assert trace.spans[1].end_time_ns == end
    assert (trace.info.state, trace.info.complete) == ("OK", True)
    assert not open_one.is_recording()
    assert_forgotten(client)


def test_a_client_span_ended_outside_the_client(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("job")
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    with genai_trace.use_span(child, end_on_exit=True):
        pass
    other = client.start_span("other", trace_id=root.trace_id, parent_id=root.span_id)
    other.end()  # a span ended outside the client does not count as open at end_trace
    with pytest.raises(genai_trace.AlreadyEndedError, match="already ended outside the client"):
        client.end_span(trace_id=root.trace_id, span_id=child.span_id)
    root.end()
    with pytest.raises(genai_trace.AlreadyEndedError, match=r"root span .* already ended outside"):
        client.end_trace(trace_id=root.trace_id)
    assert only_trace(exporter).info.span_count == 3
    assert_forgotten(client)


def test_every_client_error_is_a_tracing_error() -> None:
    classes = [
        genai_trace.MalformedIdError,
        genai_trace.TraceNotFoundError,
        genai_trace.SpanNotFoundError,
        genai_trace.AlreadyEndedError,
        genai_trace.TraceTimedOutError,
        genai_trace.WrongTraceError,
        genai_trace.DuplicateTraceError,
        genai_trace.OpenSpansError,
        genai_trace.RootSpanError,
    ]
    assert all(issubclass(c, genai_trace.TracingError) for c in classes)
    assert issubclass(genai_trace.TraceTimedOutError, genai_trace.AlreadyEndedError)
    assert issubclass(genai_trace.TraceNotFoundError, LookupError)


def test_finished_ids_are_remembered_boundedly(client: TraceClient) -> None:
    def run_traces(count: int) -> None:
        for _ in range(count):
            root = client.start_trace("job")
            client.end_trace(trace_id=root.trace_id)

    first = client.start_trace("first")
    client.end_trace(trace_id=first.trace_id)
    run_traces(FINISHED_MEMORY - 1)  # the last FINISHED_MEMORY ids, the first among them
    with pytest.raises(genai_trace.AlreadyEndedError):
        client.end_trace(trace_id=first.trace_id)
    # Up to twice as many are kept, then the oldest are forgotten in bulk.
    run_traces(FINISHED_MEMORY)
    open_traces, known_spans, remembered = client._open_counts()
    assert (open_traces, known_spans) == (0, 0)
    assert FINISHED_MEMORY <= remembered < 2 * FINISHED_MEMORY
    with pytest.raises(genai_trace.TraceNotFoundError):  # forgotten: "unknown", not "ended"
        client.end_trace(trace_id=first.trace_id)


# --- threads -----------------------------------------------------------------------------


def test_a_span_started_on_one_thread_ends_on_another(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    with ThreadPoolExecutor(1) as starter, ThreadPoolExecutor(1) as ender:
        root = starter.submit(client.start_trace, "job").result()
        child = starter.submit(
            lambda: client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
        ).result()
        ender.submit(
            lambda: client.end_span(trace_id=root.trace_id, span_id=child.span_id)
        ).result()
        ender.submit(lambda: client.end_trace(trace_id=root.trace_id)).result()
    assert [s.name for s in only_trace(exporter).spans] == ["job", "step"]


def test_many_threads_at_once(client: TraceClient, exporter: InMemoryTraceExporter) -> None:
    threads, per_thread = 8, 25
    root = client.start_trace("fan_out")
    barrier = threading.Barrier(threads)

    def work(index: int) -> list[str]:
        barrier.wait()
        ids = []
        for n in range(per_thread):
            span = client.start_span(
                f"w{index}-{n}", trace_id=root.trace_id, parent_id=root.span_id
            )
            ids.append(span.span_id)
        return ids

    with ThreadPoolExecutor(threads) as pool:
        started = [i for ids in pool.map(work, range(threads)) for i in ids]
        # End every span from a different thread than the one that started it.
        list(pool.map(lambda i: client.end_span(trace_id=root.trace_id, span_id=i), started))
    client.end_trace(trace_id=root.trace_id)
    trace = only_trace(exporter)
    assert trace.info.span_count == 1 + threads * per_thread
    assert {s.parent_id for s in trace.spans[1:]} == {root.span_id}
    assert_forgotten(client)


def test_racing_ends_of_one_span_succeed_exactly_once(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    racers = 8
    for _ in range(20):
        root = client.start_trace("race")
        child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
        barrier = threading.Barrier(racers)

        def end(
            _: int, child: genai_trace.GenAISpan = child, barrier: threading.Barrier = barrier
        ) -> str:
            barrier.wait()
            try:
                client.end_span(trace_id=child.trace_id, span_id=child.span_id)
            except genai_trace.AlreadyEndedError:
                return "refused"
            return "ended"

        with ThreadPoolExecutor(racers) as pool:
            outcomes = sorted(pool.map(end, range(racers)))
        assert outcomes == ["ended"] + ["refused"] * (racers - 1)
        client.end_trace(trace_id=root.trace_id)
    assert len(exported(exporter)) == 20


# --- bounded: timeout, reconfiguration, disabled -----------------------------------------


def test_a_trace_whose_root_never_ends_is_exported_incomplete_and_forgotten(
    client: TraceClient,
) -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], trace_timeout_s=0.2)
    root = client.start_trace("abandoned")
    child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
    time.sleep(0.25)
    with pytest.raises(
        genai_trace.TraceTimedOutError,
        match=f"end_span: trace {root.trace_id} is not open: it was open longer than "
        "trace_timeout_s=0.2 and was exported marked incomplete",
    ):
        client.end_span(trace_id=root.trace_id, span_id=child.span_id)
    assert_forgotten(client)
    rt = genai_trace._runtime.state.current()
    assert rt is not None
    rt.assembler.sweep()
    trace = only_trace(exporter)
    assert (trace.info.complete, trace.info.incomplete_reason, trace.info.state) == (
        False,
        "timeout",
        "IN_PROGRESS",
    )
    assert [(s.name, s.end_time_ns) for s in trace.spans] == [("abandoned", None), ("step", None)]
    with pytest.raises(genai_trace.TraceTimedOutError):
        client.end_trace(trace_id=root.trace_id)
    fresh = client.start_trace("fresh")  # the client goes on working
    client.end_trace(trace_id=fresh.trace_id)
    assert [t.info.name for t in exported(exporter)] == ["abandoned", "fresh"]


def test_an_abandoned_trace_is_forgotten_while_only_other_traces_are_used(
    client: TraceClient,
) -> None:
    genai_trace.configure(exporters=[InMemoryTraceExporter()], trace_timeout_s=0.2)
    abandoned = client.start_trace("abandoned")
    time.sleep(0.25)
    for _ in range(3):  # calls naming other traces only: a start forgets it
        root = client.start_trace("job")
        assert client._open_counts()[:2] == (1, 1)  # the abandoned one is gone already
        client.end_trace(trace_id=root.trace_id)
    assert_forgotten(client)
    with pytest.raises(genai_trace.TraceTimedOutError, match=r"trace_timeout_s=0\.2"):
        client.end_trace(trace_id=abandoned.trace_id)


def test_a_call_on_another_trace_forgets_an_abandoned_one_too(client: TraceClient) -> None:
    genai_trace.configure(exporters=[InMemoryTraceExporter()], trace_timeout_s=1.0)
    abandoned = client.start_trace("abandoned")
    time.sleep(0.6)
    live = client.start_trace("live")  # not yet expired: both stay
    assert client._open_counts()[:2] == (2, 2)
    time.sleep(0.6)  # the first is past the timeout, the second 0.4 s from it
    step = client.start_span("step", trace_id=live.trace_id, parent_id=live.span_id)
    assert client._open_counts()[:2] == (1, 2)
    client.end_span(trace_id=live.trace_id, span_id=step.span_id)
    client.end_trace(trace_id=live.trace_id)
    with pytest.raises(genai_trace.TraceTimedOutError):
        client.end_trace(trace_id=abandoned.trace_id)


def test_reconfiguring_exports_open_traces_and_the_client_forgets_them(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    root = client.start_trace("open_at_reconfigure")
    genai_trace.configure(exporters=[InMemoryTraceExporter()])
    with pytest.raises(genai_trace.TraceTimedOutError, match="reconfigured or shut down"):
        client.end_trace(trace_id=root.trace_id)
    traces = exporter.get_finished_traces()
    assert [(t.info.name, t.info.incomplete_reason) for t in traces] == [
        ("open_at_reconfigure", "shutdown")
    ]
    assert_forgotten(client)


def test_disabled_tracing_gives_placeholders_that_still_line_up(
    client: TraceClient, exporter: InMemoryTraceExporter
) -> None:
    genai_trace.disable()
    try:
        root = client.start_trace("off", trace_id=TRACE_ID)
        child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
        assert (root.trace_id, child.trace_id) == (TRACE_ID, TRACE_ID)
        assert not root.is_recording()
        with pytest.raises(genai_trace.OpenSpansError):
            client.end_trace(trace_id=root.trace_id)
        client.end_span(trace_id=root.trace_id, span_id=child.span_id)
        client.end_trace(trace_id=root.trace_id)
    finally:
        genai_trace.enable()
    assert exported(exporter) == []
    assert_forgotten(client)


SDK_DISABLED_CLIENT_APP = """
import json
import genai_trace
from opentelemetry import trace

client = genai_trace.TraceClient()
root = client.start_trace("job")
child = client.start_span("step", trace_id=root.trace_id, parent_id=root.span_id)
headers = {}
with genai_trace.use_span(root):
    headers["root"] = genai_trace.inject({})
with genai_trace.use_span(child):
    headers["child"] = genai_trace.inject({})
with trace.get_tracer("app").start_as_current_span("plain"):
    headers["plain OTel"] = genai_trace.inject({})
with genai_trace.start_span("fluent"):
    headers["start_span"] = genai_trace.inject({})
client.end_span(trace_id=child.trace_id, span_id=child.span_id)
client.end_trace(trace_id=root.trace_id)
ids = [root.trace_id, child.trace_id, root.span_id, child.span_id]
print(json.dumps({"headers": headers, "ids": ids, "open": client._open_counts()[:2]}))
"""


def test_client_placeholders_inject_nothing_when_the_sdk_is_disabled(tmp_path: Any) -> None:
    """Under OTEL_SDK_DISABLED the client's placeholders propagate no traceparent, as plain
    OpenTelemetry's spans do: an unsampled one would make a downstream parent-based sampler
    drop the trace that service records. The client still keeps the placeholders' ids."""
    env = {**os.environ, "OTEL_SDK_DISABLED": "true", "GENAI_TRACE_DB": str(tmp_path / "t.db")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", SDK_DISABLED_CLIENT_APP],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    result = json.loads(done.stdout)
    assert result["headers"] == {"root": {}, "child": {}, "plain OTel": {}, "start_span": {}}
    root_trace, child_trace, root_span, child_span = result["ids"]
    assert root_trace == child_trace
    assert root_span != child_span
    assert re.fullmatch("[0-9a-f]{32}", root_trace) and root_trace != "0" * 32
    assert all(re.fullmatch("[0-9a-f]{16}", s) and s != "0" * 16 for s in (root_span, child_span))
    assert result["open"] == [0, 0]
