"""Misuse of the fluent API and GenAISpan: coerced where the meaning is clear, else dropped
with one warning on the ``genai_trace`` logger; and the warnings name their true cause."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

import genai_trace
from genai_trace import TraceClient
from genai_trace.exporters import InMemoryTraceExporter
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import only


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each warning is logged once per process: forget the ones earlier tests caused."""
    monkeypatch.setattr(genai_trace._errors, "_seen", set())


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "genai_trace"]


def dropped(call: str, expected: str, got: str, outcome: str) -> tuple[str, str]:
    return ("WARNING", f"genai_trace: {call} takes {expected}, got {got}; {outcome}")


ID = "a str (an int or UUID is converted)"

# --- coerced where the meaning is clear ---------------------------------------------------


def test_update_current_trace_coerces_ids_previews_and_a_bare_tag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @genai_trace.trace
    def answer() -> str:
        genai_trace.update_current_trace(
            user_id=42,  # type: ignore[arg-type]
            session_id=session,  # type: ignore[arg-type]
            client_request_id=7,  # type: ignore[arg-type]
            request_preview={"q": "otlp"},  # type: ignore[arg-type]
            response_preview=3,  # type: ignore[arg-type]
            tags="solo",
        )
        return "done"

    with capture_traces() as traces:
        assert answer() == "done"
    info = only(traces).info
    assert (info.user_id, info.session_id, info.client_request_id) == ("42", str(session), "7")
    assert (info.request_preview, info.response_preview) == ('{"q":"otlp"}', "3")
    assert dict(info.tags) == {"solo": ""}
    assert logged(caplog) == []


def test_context_coerces_ids_and_a_bare_tag(caplog: pytest.LogCaptureFixture) -> None:
    with (
        capture_traces() as traces,
        genai_trace.context(user_id=42, session_id=7, tags="solo"),  # type: ignore[arg-type]
        genai_trace.start_span("s"),
    ):
        pass
    info = only(traces).info
    assert (info.user_id, info.session_id, dict(info.tags)) == ("42", "7", {"solo": ""})
    assert logged(caplog) == []


@pytest.mark.parametrize(
    ("given", "recorded"),
    [(12, 12), (12.0, 12), ("12", 12), (" 7 ", 7), (0, 0), (2**63 - 1, 2**63 - 1)],
)
def test_set_token_usage_coerces_a_count_whose_meaning_is_clear(
    given: Any, recorded: int, caplog: pytest.LogCaptureFixture
) -> None:
    with capture_traces() as traces, genai_trace.start_span("llm") as span:
        span.set_token_usage(input_tokens=given, output_tokens=1)
    attributes = only(traces).spans[0].attributes
    assert attributes["llm.token_count.prompt"] == recorded
    assert attributes["gen_ai.usage.input_tokens"] == recorded
    assert attributes.get("llm.token_count.total") == (
        None if recorded == 2**63 - 1 else recorded + 1  # a sum past int64 is not recorded
    )
    assert logged(caplog) == []


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (math.nan, "float"),
        (math.inf, "float"),
        (-1, "int"),
        (True, "bool"),
        (1.5, "float"),
        (2**63, "int"),
        ("many", "str"),
        ("-3", "str"),
        ([1], "list"),
    ],
)
def test_set_token_usage_drops_a_count_it_cannot_read_with_one_warning(
    given: Any, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    with capture_traces() as traces, genai_trace.start_span("llm") as span:
        span.set_token_usage(input_tokens=given, output_tokens=5)
        span.set_token_usage(input_tokens=given)
    attributes = dict(only(traces).spans[0].attributes)
    assert "llm.token_count.prompt" not in attributes
    assert "llm.token_count.total" not in attributes  # no sum without both counts
    assert attributes["llm.token_count.completion"] == 5
    assert logged(caplog) == [
        dropped(
            "GenAISpan.set_token_usage(input_tokens=...)",
            "a count of tokens (an int from 0)",
            shown,
            "the count is dropped",
        )
    ]


def test_start_span_and_span_methods_coerce_names_and_drop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with capture_traces() as traces:
        with genai_trace.start_span(42, span_type=3, attributes=["a"]) as span:  # type: ignore[arg-type]
            span.set_status("BROKEN")
            span.set_attributes(["x"])  # type: ignore[arg-type]
            span.set_attribute(7, "seven")  # type: ignore[arg-type]
            span.add_event(9, attributes=["x"], timestamp_ns=-1)  # type: ignore[arg-type]
            span.record_exception("not an exception")  # type: ignore[arg-type]
            span.set_span_type(5)  # type: ignore[arg-type]
            span.set_status("error", 404)  # type: ignore[arg-type]
    (record,) = only(traces).spans
    assert (record.name, record.span_type) == ("42", "CHAIN")
    assert (record.status, record.status_message) == ("ERROR", "404")
    assert [event.name for event in record.events] == ["9"]
    assert record.attributes["7"] == "seven"
    assert logged(caplog) == [
        dropped("start_span(name=...)", "a str", "int", "its text is the name"),
        dropped("start_span(span_type=...)", "a SpanType or a str", "int", "CHAIN"),
        dropped("start_span(attributes=...)", "a mapping", "list", "dropped"),
        dropped("GenAISpan.set_status()", "'OK', 'ERROR' or 'UNSET'", "str", "ignored"),
        dropped("GenAISpan.set_attributes()", "a mapping", "list", "dropped"),
        dropped("GenAISpan.add_event(name=...)", "a str", "int", "its text is the name"),
        dropped("GenAISpan.add_event(attributes=...)", "a mapping", "list", "dropped"),
        dropped(
            "GenAISpan.add_event(timestamp_ns=...)",
            "epoch nanoseconds (an int from 0)",
            "int",
            "the current time is used",
        ),
        dropped("GenAISpan.record_exception()", "an exception", "str", "ignored"),
        dropped("GenAISpan.set_span_type()", "a SpanType or a str", "int", "ignored"),
    ]


# --- dropped with one warning ---------------------------------------------------------------


def test_update_current_trace_drops_what_it_cannot_use_with_one_warning_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @genai_trace.trace
    def answer() -> str:
        for _ in range(2):
            genai_trace.update_current_trace(
                user_id=["ada"],  # type: ignore[arg-type]
                session_id=b"s1",  # type: ignore[arg-type]
                metadata=["a"],  # type: ignore[arg-type]
                tags=5,  # type: ignore[arg-type]
                client_request_id="req-1",
            )
        return "done"

    with capture_traces() as traces:
        assert answer() == "done"
    info = only(traces).info
    assert (info.user_id, info.session_id, info.client_request_id) == (None, None, "req-1")
    assert (dict(info.tags), dict(info.metadata)) == ({}, {})
    call = "update_current_trace({}=...)".format
    assert logged(caplog) == [
        dropped(call("tags"), "a mapping or a list of strings", "int", "the tags are dropped"),
        dropped(call("metadata"), "a mapping", "list", "the metadata is dropped"),
        dropped(call("session_id"), ID, "bytes", "the value is dropped"),
        dropped(call("user_id"), ID, "list", "the value is dropped"),
    ]


def test_a_secret_passed_by_mistake_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with genai_trace.start_span("s") as span:
        span.set_token_usage(input_tokens="sk-proj-secret")
    assert "sk-proj" not in caplog.text
    assert logged(caplog)[0][1].endswith("got str; the count is dropped")


# --- item 14: the warnings name their true cause ----------------------------------------------


def update_from(span_name: str) -> None:
    with genai_trace.start_span(span_name):
        genai_trace.update_current_trace(tags={"a": "b"})


def test_outside_any_span_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    genai_trace.update_current_trace(tags={"a": "b"})
    genai_trace.update_current_trace(tags={"a": "b"})
    assert logged(caplog) == [
        (
            "WARNING",
            "genai_trace: update_current_trace() was called outside any span; nothing updated",
        )
    ]


def test_disabled_on_purpose_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    genai_trace.disable()
    try:
        update_from("s")
        genai_trace.update_current_trace(tags={"a": "b"})
    finally:
        genai_trace.enable()
    assert logged(caplog) == []


@pytest.fixture
def app_provider() -> Iterator[tuple[TracerProvider, InMemoryTraceExporter]]:
    """An app that owns its provider and sampler (every root dropped) and hands it over."""
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], tracer_provider=provider)
    yield provider, exporter
    provider.shutdown()


def test_an_unsampled_trace_is_not_a_fault(
    app_provider: tuple[TracerProvider, InMemoryTraceExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="genai_trace")
    update_from("dropped by the sampler")
    client = TraceClient()
    root = client.start_trace("job", tags={"t": "1"})
    client.end_trace(trace_id=root.trace_id)
    assert genai_trace.flush(10)
    assert app_provider[1].get_finished_traces() == []
    assert logged(caplog) == [
        ("DEBUG", "genai_trace: update_current_trace() in an unsampled trace; not recorded")
    ]


def test_a_sampled_trace_of_the_app_sampler_is_updated(caplog: pytest.LogCaptureFixture) -> None:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], tracer_provider=provider)
    try:
        update_from("kept")
        assert genai_trace.flush(10)
    finally:
        provider.shutdown()
    (trace,) = exporter.get_finished_traces()
    assert dict(trace.info.tags) == {"a": "b"}
    assert logged(caplog) == []


def test_inside_extract_before_any_span_says_so(caplog: pytest.LogCaptureFixture) -> None:
    carrier = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    with genai_trace.extract(carrier):
        genai_trace.update_current_trace(tags={"a": "b"})
    assert logged(caplog) == [
        (
            "WARNING",
            "genai_trace: update_current_trace() was called inside extract() before any span "
            "started; the trace's facts belong to a span of this process, so nothing updated",
        )
    ]


def test_after_the_trace_was_exported_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with genai_trace.start_span("done") as span:
        pass
    assert genai_trace.flush(10)
    with genai_trace.use_span(span):  # an ended span made current again: its trace is gone
        genai_trace.update_current_trace(tags={"a": "b"})
    assert logged(caplog) == [
        (
            "WARNING",
            "genai_trace: update_current_trace() was called after its trace was exported; "
            "nothing updated",
        )
    ]


def test_a_span_of_a_provider_genai_trace_does_not_watch_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    genai_trace.configure(exporters=[], tracer_provider=TracerProvider())
    other = TracerProvider()
    with other.get_tracer("app").start_as_current_span("request"):
        genai_trace.update_current_trace(tags={"a": "b"})
    other.shutdown()
    assert logged(caplog) == [
        (
            "WARNING",
            "genai_trace: update_current_trace() was called in a span genai-trace does not "
            "assemble (another TracerProvider's, or its trace was already exported after "
            "trace_timeout_s or max_buffered_traces); nothing updated",
        )
    ]


SDK_DISABLED_APP = textwrap.dedent(
    """
    import logging, sys
    import genai_trace

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("genai_trace").addHandler(handler)
    logging.getLogger("genai_trace").setLevel(logging.DEBUG)

    @genai_trace.trace
    def answer(question):
        genai_trace.update_current_trace(tags={"a": "b"}, user_id="ada")
        with genai_trace.start_span("inner") as span:
            span.set_token_usage(input_tokens=3)
            genai_trace.update_current_trace(metadata={"m": 1})
        return question.upper()

    assert answer("hi") == "HI"
    genai_trace.update_current_trace(tags={"outside": ""})
    print(repr([(r.levelname, r.getMessage()) for r in records]))
    """
)


def test_otel_sdk_disabled_says_nothing(tmp_path: Any) -> None:
    env = {**os.environ, "OTEL_SDK_DISABLED": "true", "GENAI_TRACE_DB": str(tmp_path / "t.db")}
    env.pop("GENAI_TRACE_RAISE_INTERNAL_ERRORS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", SDK_DISABLED_APP],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == "[]"


def test_a_misused_call_reaches_the_untouched_span(caplog: pytest.LogCaptureFixture) -> None:
    with capture_traces() as traces:
        with genai_trace.start_span("s"):
            span = trace_api.get_current_span()
            genai_trace.get_current_span().set_status(None)  # type: ignore[arg-type]
    assert span.get_span_context().is_valid
    assert only(traces).spans[0].status == "UNSET"
