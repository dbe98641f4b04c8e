"""inject/extract: W3C trace context and baggage, in process and across two real processes."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from opentelemetry import baggage, propagate
from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import genai_trace
from genai_trace import SpanType, TraceClient
from genai_trace._semantics.model import Trace
from genai_trace.exporters import InMemoryTraceExporter
from tests.helpers.paths import APPS

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SERVICE_SCRIPT = APPS / "service_app.py"


@pytest.fixture(autouse=True)
def no_context_leak() -> Iterator[None]:
    yield
    assert not trace_api.get_current_span().get_span_context().is_valid, "a span was left current"


def exported(exporter: InMemoryTraceExporter) -> list[Trace]:
    assert genai_trace.flush(10)
    return exporter.get_finished_traces()


# --- inject ------------------------------------------------------------------------------


def test_inject_outside_any_span_writes_no_traceparent() -> None:
    assert genai_trace.inject() == {}
    with genai_trace.context(session_id="s1"):
        assert genai_trace.inject() == {"baggage": "session.id=s1"}


def test_inject_writes_the_current_span_and_the_session_and_user() -> None:
    headers = {"content-type": "application/json"}
    with (
        genai_trace.context(session_id="chat 1", user_id="ada@example.com", tags={"t": "x"}),
        genai_trace.start_span("call") as span,
    ):
        returned = genai_trace.inject(headers)
    assert returned is headers
    version, trace_id, span_id, flags = headers.pop("traceparent").split("-")
    assert (version, trace_id, span_id) == ("00", span.trace_id, span.span_id)
    assert int(flags, 16) & 1  # sampled
    assert headers == {
        "content-type": "application/json",
        "baggage": "session.id=chat+1,user.id=ada%40example.com",  # OTel quotes with quote_plus,
    }


def test_inject_keeps_the_apps_own_baggage() -> None:
    token = context_api.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with genai_trace.context(user_id="ada"):
            headers = genai_trace.inject()
    finally:
        context_api.detach(token)
    assert headers == {"baggage": "tenant=acme,user.id=ada"}
    assert baggage.get_baggage("user.id") is None  # the current context is not changed


def test_inject_warns_once_and_returns_a_carrier_it_cannot_write(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(genai_trace._errors, "_seen", set())  # warnings earlier tests caused
    carrier = ("traceparent",)
    with genai_trace.start_span("s"):
        for _ in range(2):
            assert genai_trace.inject(carrier) is carrier  # type: ignore[call-overload]
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "genai_trace"] == [
        (
            "WARNING",
            "genai_trace: inject() takes a mutable mapping of headers, got tuple; nothing injected",
        )
    ]


# --- extract -----------------------------------------------------------------------------


def test_extract_continues_a_remote_trace_as_a_local_part(
    exporter: InMemoryTraceExporter,
) -> None:
    carrier = {
        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
        "baggage": "session.id=chat%201,user.id=ada",
    }
    with genai_trace.extract(carrier):
        with genai_trace.start_span("handle", span_type=SpanType.TOOL) as span:
            with genai_trace.start_span("inner"):
                pass
        assert genai_trace.get_current_span().span_id == CALLER_SPAN
    assert not genai_trace.get_current_span().otel_span.get_span_context().is_valid
    assert span.parent_id == CALLER_SPAN
    (trace,) = exported(exporter)
    assert (trace.info.trace_id, trace.info.complete) == (CALLER_TRACE, True)
    assert (trace.info.session_id, trace.info.user_id) == ("chat 1", "ada")
    assert [(s.name, s.parent_id, s.parent_is_remote) for s in trace.spans] == [
        ("handle", CALLER_SPAN, True),
        ("inner", span.span_id, False),
    ]
    assert trace.root is not None and trace.root.name == "handle"


def test_extract_merges_baggage_into_the_enclosing_context(
    exporter: InMemoryTraceExporter,
) -> None:
    with (
        genai_trace.context(user_id="local", tags={"env": "test"}),
        genai_trace.extract({"baggage": "session.id=remote-session"}),
        genai_trace.start_span("handle"),
    ):
        pass
    info = exported(exporter)[0].info
    assert (info.session_id, info.user_id, info.tags) == (
        "remote-session",
        "local",
        {"env": "test"},
    )


def test_extract_without_trace_headers_keeps_the_current_span(
    exporter: InMemoryTraceExporter,
) -> None:
    with genai_trace.start_span("outer") as outer:
        with genai_trace.extract({"x-unrelated": "1"}), genai_trace.start_span("inner") as inner:
            pass
    assert inner.parent_id == outer.span_id


@pytest.mark.parametrize(
    "traceparent",
    ["garbage", f"00-{'0' * 32}-{CALLER_SPAN}-01", f"00-{CALLER_TRACE}-{'0' * 16}-01"],
)
def test_extract_ignores_a_malformed_traceparent(traceparent: str) -> None:
    with genai_trace.extract({"traceparent": traceparent}), genai_trace.start_span("s") as span:
        pass
    assert span.parent_id is None
    assert span.trace_id != CALLER_TRACE


async def test_extract_works_with_async_with(exporter: InMemoryTraceExporter) -> None:
    async with genai_trace.extract({"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}):
        async with genai_trace.start_span("handle") as span:
            pass
    assert (span.trace_id, span.parent_id) == (CALLER_TRACE, CALLER_SPAN)


def test_extract_warns_once_and_ignores_a_carrier_it_cannot_read(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(genai_trace._errors, "_seen", set())  # warnings earlier tests caused
    with genai_trace.start_span("outer") as outer:
        for _ in range(2):
            with (
                genai_trace.extract(["traceparent"]),  # type: ignore[arg-type]
                genai_trace.start_span("inner") as inner,
            ):
                pass
            assert inner.parent_id == outer.span_id
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "genai_trace"] == [
        (
            "WARNING",
            "genai_trace: extract() takes a mapping of headers, got list; "
            "the block runs in the current context",
        )
    ]


def _message(headers: dict[str, str]) -> Message:
    message = Message()
    for name, value in headers.items():
        message[name] = value
    return message


CAPITALIZED = {  # what urllib sends, and what dict(self.headers) then holds
    "Traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
    "Tracestate": "vendor=x",
    "Baggage": "session.id=chat-7,user.id=ada",
}


@pytest.mark.parametrize(
    "carrier",
    [
        pytest.param(CAPITALIZED, id="dict, capitalized"),
        pytest.param({k.upper(): v for k, v in CAPITALIZED.items()}, id="dict, upper case"),
        pytest.param({k.lower(): [v] for k, v in CAPITALIZED.items()}, id="dict of lists"),
        pytest.param({k.encode(): v.encode() for k, v in CAPITALIZED.items()}, id="dict of bytes"),
        pytest.param(_message(CAPITALIZED), id="email Message (http.server headers)"),
    ],
)
def test_extract_reads_header_names_in_any_case(
    carrier: Any, exporter: InMemoryTraceExporter
) -> None:
    with genai_trace.extract(carrier):
        state = trace_api.get_current_span().get_span_context().trace_state
        with genai_trace.start_span("handle") as span:
            pass
    assert dict(state) == {"vendor": "x"}
    assert (span.trace_id, span.parent_id) == (CALLER_TRACE, CALLER_SPAN)
    (trace,) = exported(exporter)
    assert (trace.info.session_id, trace.info.user_id) == ("chat-7", "ada")


def test_in_process_round_trip_exports_two_parts_of_one_trace(
    exporter: InMemoryTraceExporter,
) -> None:
    with genai_trace.start_span("caller") as caller:
        headers = genai_trace.inject()
    with genai_trace.extract(headers), genai_trace.start_span("receiver") as receiver:
        pass
    caller_part, receiver_part = exported(exporter)
    assert caller_part.info.trace_id == receiver_part.info.trace_id == caller.trace_id
    assert receiver.parent_id == caller.span_id
    assert receiver_part.spans[0].parent_is_remote


# --- two processes: a caller and an HTTP service on 127.0.0.1 -----------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The service in a subprocess: its URL and the JSON-lines file it exports to."""
    directory = tmp_path_factory.mktemp("service")
    traces_path = directory / "traces.jsonl"
    stderr_path = directory / "stderr.txt"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(SERVICE_SCRIPT), str(traces_path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
        try:
            port = int(lines.get(timeout=20))
        except (queue.Empty, ValueError):
            pytest.fail(f"the service did not start: {stderr_path.read_text()}")
        yield f"http://127.0.0.1:{port}/answer", traces_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def post_with_urllib(url: str, headers: dict[str, str], body: bytes) -> bytes:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=20) as response:
        data: bytes = response.read()
    return data


def post_with_httpx(url: str, headers: dict[str, str], body: bytes) -> bytes:
    return httpx.post(url, content=body, headers=headers, timeout=20).raise_for_status().content


def post_with_requests(url: str, headers: dict[str, str], body: bytes) -> bytes:
    response = requests.post(url, data=body, headers=headers, timeout=20)
    response.raise_for_status()
    return response.content


Post = Callable[[str, dict[str, str], bytes], bytes]
POSTS: dict[str, Post] = {
    "urllib": post_with_urllib,
    "httpx": post_with_httpx,
    "requests": post_with_requests,
}


def call_service(url: str, question: str, post: Post = post_with_urllib) -> dict[str, Any]:
    headers = genai_trace.inject({"Content-Type": "application/json"})
    body = json.dumps({"question": question}).encode()
    result: dict[str, Any] = json.loads(post(url, headers, body))
    return result


def service_parts(traces_path: Path, trace_id: str) -> list[dict[str, Any]]:
    lines = traces_path.read_text(encoding="utf-8").splitlines()
    parts = [json.loads(line) for line in lines]
    return [p for p in parts if p["info"]["trace_id"] == trace_id]


def assert_service_part(part: dict[str, Any], trace_id: str, parent_span_id: str) -> None:
    info = part["info"]
    assert (info["trace_id"], info["name"], info["complete"]) == (trace_id, "service.answer", True)
    assert (info["session_id"], info["user_id"]) == ("chat-7", "ada")
    spans = part["spans"]
    assert [(s["name"], s["span_type"], s["parent_is_remote"]) for s in spans] == [
        ("service.answer", "CHAIN", True),
        ("service.llm", "LLM", False),
    ]
    assert spans[0]["parent_id"] == parent_span_id
    assert spans[1]["parent_id"] == spans[0]["span_id"]
    assert (spans[0]["inputs"], spans[0]["outputs"]) == ({"question": "hi"}, {"answer": "HI"})
    assert {s["trace_id"] for s in spans} == {trace_id}


def test_fluent_caller_and_http_service_form_one_trace(
    service: tuple[str, Path], exporter: InMemoryTraceExporter
) -> None:
    url, traces_path = service
    with (
        genai_trace.context(session_id="chat-7", user_id="ada"),
        genai_trace.start_span("caller.ask", inputs="hi") as root,
        genai_trace.start_span("caller.http", span_type=SpanType.TOOL) as http_span,
    ):
        result = call_service(url, "hi")
    assert result == {
        "answer": "HI",
        "trace_id": root.trace_id,
        "headers": ["Baggage", "Traceparent"],  # urllib capitalizes header names
    }

    (caller_part,) = exported(exporter)
    assert [(s.name, s.parent_id) for s in caller_part.spans] == [
        ("caller.ask", None),
        ("caller.http", root.span_id),
    ]
    (service_part,) = service_parts(traces_path, root.trace_id)  # exported exactly once
    assert_service_part(service_part, root.trace_id, http_span.span_id)


def test_client_caller_and_http_service_form_one_trace(
    service: tuple[str, Path], exporter: InMemoryTraceExporter
) -> None:
    url, traces_path = service
    client = TraceClient()
    root = client.start_trace("job", trace_id=CALLER_TRACE.replace("4bf9", "5bf9"))
    call = client.start_span(
        "call_service", trace_id=root.trace_id, parent_id=root.span_id, span_type=SpanType.TOOL
    )
    with genai_trace.context(session_id="chat-7", user_id="ada"), genai_trace.use_span(call):
        result = call_service(url, "hi")
    client.end_span(trace_id=root.trace_id, span_id=call.span_id, outputs=result)
    client.end_trace(trace_id=root.trace_id)

    (caller_part,) = exported(exporter)
    assert caller_part.info.trace_id == root.trace_id == result["trace_id"]
    (service_part,) = service_parts(traces_path, root.trace_id)
    assert_service_part(service_part, root.trace_id, call.span_id)


@pytest.mark.parametrize(
    ("client", "sent_names"),
    [
        ("urllib", ["Baggage", "Traceparent"]),
        ("httpx", ["baggage", "traceparent"]),
        ("requests", ["baggage", "traceparent"]),
    ],
)
@pytest.mark.parametrize("path", ["/answer", "/answer-dict"])
def test_a_service_reading_dict_of_its_headers_joins_the_trace_whatever_the_case(
    service: tuple[str, Path],
    exporter: InMemoryTraceExporter,
    client: str,
    sent_names: list[str],
    path: str,
) -> None:
    url, traces_path = service
    with (
        genai_trace.context(session_id="chat-7", user_id="ada"),
        genai_trace.start_span("caller.ask", inputs="hi") as root,
        genai_trace.start_span("caller.http", span_type=SpanType.TOOL) as http_span,
    ):
        result = call_service(url.replace("/answer", path), "hi", POSTS[client])
    assert result == {"answer": "HI", "trace_id": root.trace_id, "headers": sent_names}
    exported(exporter)
    (service_part,) = service_parts(traces_path, root.trace_id)
    assert_service_part(service_part, root.trace_id, http_span.span_id)


# --- SessionBaggagePropagator: session and user on every OpenTelemetry-propagated call ------


@pytest.fixture
def session_baggage() -> Iterator[None]:
    """The global propagator an app sets to carry session and user on instrumented calls."""
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(
        CompositePropagator(
            [TraceContextTextMapPropagator(), genai_trace.SessionBaggagePropagator()]
        )
    )
    yield
    propagate.set_global_textmap(previous)


def instrumented_headers() -> dict[str, str]:
    """What the requests and httpx instrumentations put on a request: the global propagator."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def test_without_the_propagator_an_instrumented_call_carries_no_session() -> None:
    with genai_trace.context(session_id="chat-7"), genai_trace.start_span("s"):
        assert "baggage" not in instrumented_headers()


def test_the_propagator_carries_session_user_and_the_apps_baggage(session_baggage: None) -> None:
    token = context_api.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with (
            genai_trace.context(session_id="chat 7", user_id="ada", tags={"private": "x"}),
            genai_trace.start_span("s"),
        ):
            headers = instrumented_headers()
    finally:
        context_api.detach(token)
    headers.pop("traceparent")
    assert headers == {"baggage": "tenant=acme,session.id=chat+7,user.id=ada"}


def test_the_propagator_gives_a_server_instrumentations_spans_the_session(
    session_baggage: None, exporter: InMemoryTraceExporter
) -> None:
    carrier = {
        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
        "baggage": "session.id=chat-7,user.id=ada",
    }
    token = context_api.attach(propagate.extract(carrier))  # as a server instrumentation does
    try:
        with genai_trace.start_span("handle") as span:
            pass
    finally:
        context_api.detach(token)
    assert span.parent_id == CALLER_SPAN
    info = exported(exporter)[0].info
    assert (info.session_id, info.user_id) == ("chat-7", "ada")


def test_an_instrumented_httpx_call_carries_the_session_to_the_service(
    session_baggage: None, service: tuple[str, Path], exporter: InMemoryTraceExporter
) -> None:
    url, traces_path = service
    body = json.dumps({"question": "hi"}).encode()
    with (
        genai_trace.context(session_id="chat-7", user_id="ada"),
        genai_trace.start_span("caller.ask", inputs="hi") as root,
        genai_trace.start_span("caller.http", span_type=SpanType.TOOL) as http_span,
    ):
        result = json.loads(post_with_httpx(url, instrumented_headers(), body))
    assert result["trace_id"] == root.trace_id
    exported(exporter)
    (service_part,) = service_parts(traces_path, root.trace_id)
    assert_service_part(service_part, root.trace_id, http_span.span_id)


def test_the_propagator_is_an_opentelemetry_entry_point() -> None:
    found = entry_points(group="opentelemetry_propagator", name="genai_trace_baggage")
    if not found:
        pytest.skip("the installed metadata predates the entry point: reinstall the project")
    (entry,) = found
    assert entry.load() is genai_trace.SessionBaggagePropagator
    # OpenTelemetry loads it while opentelemetry.propagate is being imported: no import cycle,
    # whichever of the two the app imports first.
    for first in ("genai_trace", "opentelemetry.propagate"):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import {first}; from opentelemetry import propagate; "
                "print(type(propagate.get_global_textmap()._propagators[1]).__name__)",
            ],
            env={**os.environ, "OTEL_PROPAGATORS": "tracecontext,genai_trace_baggage"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.stdout, done.stderr) == ("SessionBaggagePropagator\n", "")
