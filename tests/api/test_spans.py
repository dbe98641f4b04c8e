"""start_span, GenAISpan methods, get_current_span on any span, update_current_trace."""

from __future__ import annotations

import pytest
from opentelemetry import trace as trace_api

import genai_trace
from genai_trace import SpanType
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import only, parent_names, span_tree


def test_start_span_with_every_genai_span_method() -> None:
    with capture_traces() as traces:
        with genai_trace.start_span(
            "retrieval", span_type=SpanType.RETRIEVER, inputs={"q": "otel"}, attributes={"k": 3}
        ) as span:
            assert span.name == "retrieval"
            assert span.span_type == "RETRIEVER"
            assert span.parent_id is None
            assert len(span.trace_id) == 32 and len(span.span_id) == 16
            span.set_outputs([{"id": 1, "text": "OpenTelemetry"}])
            span.set_attribute("top_k", 3)
            span.set_attributes({"index": "docs", "filters": {"lang": "en"}, "skipped": None})
            span.add_event("reranked", {"count": 1})
            span.record_exception(ValueError("soft failure"))
            span.set_span_type(SpanType.RERANKER)
            span.update_name("rerank")
            span.set_token_usage(input_tokens=5, output_tokens=7)
            span.set_status("ERROR", "partial results")
            ids = (span.trace_id, span.span_id)
    trace = only(traces)
    (record,) = trace.spans
    assert (record.trace_id, record.span_id) == ids
    assert record.name == "rerank"
    assert record.span_type == "RERANKER"
    assert record.inputs == {"q": "otel"}
    assert record.outputs == [{"id": 1, "text": "OpenTelemetry"}]
    assert record.status == "ERROR" and record.status_message == "partial results"
    assert [e.name for e in record.events] == ["reranked", "exception"]
    assert record.events[0].attributes == {"count": 1}
    attributes = dict(record.attributes)
    for key, value in {
        "k": 3,
        "top_k": 3,
        "index": "docs",
        "filters": '{"lang":"en"}',
        "llm.token_count.prompt": 5,
        "llm.token_count.completion": 7,
        "llm.token_count.total": 12,
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 7,
        "genai_trace.span.type": "RERANKER",
        "openinference.span.kind": "RERANKER",
        "input.value": '{"q":"otel"}',
        "input.mime_type": "application/json",
        "output.value": '[{"id":1,"text":"OpenTelemetry"}]',
        "output.mime_type": "application/json",
    }.items():
        assert attributes.pop(key) == value, key
    assert attributes == {}
    assert record.token_usage == genai_trace.TokenUsage(5, 7, 12)
    assert trace.info.token_usage == genai_trace.TokenUsage(5, 7, 12)


def test_strings_stay_plain_text_never_json_quoted() -> None:
    with capture_traces() as traces:
        with genai_trace.start_span("echo", inputs="hello") as span:
            span.set_outputs("world")
    (record,) = only(traces).spans
    assert record.attributes["input.value"] == "hello"
    # text/plain is OpenInference's default mime type: the span leaves it out.
    assert "input.mime_type" not in record.attributes
    assert (record.inputs, record.outputs) == ("hello", "world")


def test_exception_leaving_the_block_is_recorded_and_propagates() -> None:
    with capture_traces() as traces, pytest.raises(KeyError):
        with genai_trace.start_span("lookup"):
            raise KeyError("missing")
    (record,) = only(traces).spans
    assert record.status == "ERROR"
    assert record.status_message == "KeyError: 'missing'"
    assert [e.name for e in record.events] == ["exception"]


async def test_async_with_and_nesting_with_decorated_functions() -> None:
    @genai_trace.trace(span_type=SpanType.TOOL)
    async def tool(x: int) -> int:
        return x + 1

    with capture_traces() as traces:
        async with genai_trace.start_span("agent", span_type=SpanType.AGENT) as agent:
            with genai_trace.start_span("plan") as plan:
                assert plan.parent_id == agent.span_id
            await tool(1)
    assert span_tree(only(traces)) == [
        (0, "agent", "AGENT"),
        (1, "plan", "CHAIN"),
        (1, "tool", "TOOL"),
    ]


def test_get_current_span_annotates_a_span_another_library_started() -> None:
    foreign = trace_api.get_tracer("some.http.library")
    with capture_traces() as traces:
        with foreign.start_as_current_span("POST /chat"):
            current = genai_trace.get_current_span()
            assert current.name == "POST /chat"
            current.set_span_type(SpanType.CHAIN)
            current.set_inputs({"message": "hi"})
            current.set_outputs("hello!")
    trace = only(traces)
    (record,) = trace.spans
    assert (record.name, record.span_type, record.inputs, record.outputs) == (
        "POST /chat",
        "CHAIN",
        {"message": "hi"},
        "hello!",
    )
    assert trace.info.request_preview == "hi"


def test_get_current_span_outside_any_span_is_a_harmless_placeholder() -> None:
    span = genai_trace.get_current_span()
    assert not span.is_recording()
    assert span.trace_id == "0" * 32
    span.set_inputs({"x": 1})
    span.set_status("OK")
    span.end()


def test_update_current_trace_from_a_child_span_wins_over_defaults() -> None:
    @genai_trace.trace
    def inner() -> None:
        genai_trace.update_current_trace(
            request_preview="custom request",
            response_preview="custom response",
            tags={"team": "search", "env": "dev"},
            metadata={"version": 3},
            session_id="s-1",
            user_id="u-1",
            client_request_id="req-42",
        )
        genai_trace.update_current_trace(tags=["beta"], metadata={"flag": True})

    @genai_trace.trace
    def outer(question: str) -> str:
        inner()
        return "answer"

    with capture_traces() as traces:
        outer("what?")
    trace = only(traces)
    info = trace.info
    assert info.request_preview == "custom request"
    assert info.response_preview == "custom response"
    assert dict(info.tags) == {"team": "search", "env": "dev", "beta": ""}
    assert dict(info.metadata) == {"version": 3, "flag": True}
    assert (info.session_id, info.user_id, info.client_request_id) == ("s-1", "u-1", "req-42")
    # The live root span carries the same facts, for the app's own exporters.
    root = trace.root
    assert root is not None and root.name == "outer"
    assert root.attributes["session.id"] == "s-1"
    assert root.attributes["genai_trace.trace.request_preview"] == "custom request"
    assert root.attributes["tag.tags"] == ("team=search", "env=dev", "beta")
    assert root.attributes["genai_trace.tag.team"] == "search"
    assert genai_trace.get_trace("req-42") is not None


def test_update_current_trace_outside_a_span_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(genai_trace._errors, "_seen", set())
    genai_trace.update_current_trace(tags={"a": "b"})
    genai_trace.update_current_trace(tags={"a": "b"})
    assert caplog.text.count("outside any span") == 1


def test_default_previews_for_chat_shaped_root() -> None:
    @genai_trace.trace(span_type=SpanType.CHAT_MODEL)
    def chat(messages: list[dict[str, str]]) -> dict[str, object]:
        return {
            "choices": [{"message": {"role": "assistant", "content": "Paris."}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
        }

    with capture_traces() as traces:
        chat(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Capital of France?"},
            ]
        )
    info = only(traces).info
    assert (info.request_preview, info.response_preview) == ("Capital of France?", "Paris.")
    assert info.token_usage == genai_trace.TokenUsage(12, 2, 14)


def test_parent_links_of_a_deeper_tree() -> None:
    with capture_traces() as traces:
        with genai_trace.start_span("a"):
            with genai_trace.start_span("b"):
                with genai_trace.start_span("c"):
                    pass
            with genai_trace.start_span("d"):
                pass
    assert parent_names(only(traces)) == {"a": None, "b": "a", "c": "b", "d": "a"}
