"""OTel spans to a whole Trace (``genai_trace._runtime.builder``), with real SDK span objects."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext
from opentelemetry.trace.status import StatusCode

from genai_trace._runtime.builder import build_trace, span_record
from genai_trace._semantics.facts import (
    TraceUpdates,
    merge_parts,
    span_type_of,
    token_usage_of,
    total_token_usage,
    usage_from_output,
)
from genai_trace._semantics.messages import (
    PREVIEW_MAX_CHARS,
    is_genai_span,
    request_preview,
    response_preview,
)
from genai_trace._semantics.model import SpanEvent, SpanRecord, TokenUsage, Trace, TraceInfo
from tests.helpers.otel_spans import TRACE_HEX, TRACE_ID, make_span, ms, sid

# --- a whole trace, compared exactly --------------------------------------------------------


def test_a_rag_trace_is_built_whole() -> None:
    question = {"question": "What is OTel?"}
    completion = {
        "choices": [{"message": {"role": "assistant", "content": "A standard."}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
    root = make_span(
        "rag",
        1,
        attributes={
            "openinference.span.kind": "CHAIN",
            "genai_trace.span.type": "CHAIN",
            "input.value": json.dumps(question),
            "input.mime_type": "application/json",
            "output.value": "A standard.",
            "output.mime_type": "text/plain",
            "session.id": "s-1",
            "genai_trace.tag.env": "prod",
        },
        start=0,
        end=100,
        status=StatusCode.OK,
    )
    retrieve = make_span(
        "retrieve",
        2,
        1,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "output.value": '["doc"]',
            "output.mime_type": "application/json",
        },
        start=5,
        end=20,
    )
    chat = make_span(
        "chat gpt-4o",
        3,
        1,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 3,
            "output.value": json.dumps(completion),
            "output.mime_type": "application/json",
        },
        start=30,
        end=90,
        events=[Event("first_token", {"ms": 5}, timestamp=ms(40))],
    )
    trace = build_trace([chat, root, retrieve])

    GPT_4O_COST = (12 * 2.5 + 3 * 10.0) * 1e-6  # dollars per million input, output tokens
    assert trace == Trace(
        info=TraceInfo(
            trace_id=TRACE_HEX,
            name="rag",
            state="OK",
            start_time_ns=ms(0),
            end_time_ns=ms(100),
            request_preview="What is OTel?",
            response_preview="A standard.",
            span_count=3,
            client_request_id=None,
            tags={"env": "prod"},
            metadata={},
            session_id="s-1",
            user_id=None,
            token_usage=TokenUsage(12, 3, 15),
            complete=True,
            incomplete_reason=None,
            dropped_spans=0,
            cost_usd=GPT_4O_COST,  # gpt-4o-2024-08-06 is priced as gpt-4o
        ),
        spans=(
            SpanRecord(
                trace_id=TRACE_HEX,
                span_id=sid(1),
                parent_id=None,
                name="rag",
                span_type="CHAIN",
                start_time_ns=ms(0),
                end_time_ns=ms(100),
                status="OK",
                status_message=None,
                inputs=question,
                outputs="A standard.",
                attributes=dict(root.attributes or {}),
            ),
            SpanRecord(
                trace_id=TRACE_HEX,
                span_id=sid(2),
                parent_id=sid(1),
                name="retrieve",
                span_type="RETRIEVER",
                start_time_ns=ms(5),
                end_time_ns=ms(20),
                status="UNSET",
                status_message=None,
                inputs=None,
                outputs=["doc"],
                attributes=dict(retrieve.attributes or {}),
            ),
            SpanRecord(
                trace_id=TRACE_HEX,
                span_id=sid(3),
                parent_id=sid(1),
                name="chat gpt-4o",
                span_type="CHAT_MODEL",
                start_time_ns=ms(30),
                end_time_ns=ms(90),
                status="UNSET",
                status_message=None,
                inputs=None,
                outputs=completion,
                attributes=dict(chat.attributes or {}),
                events=(SpanEvent("first_token", ms(40), {"ms": 5}),),
                token_usage=TokenUsage(12, 3, 15),
                model="gpt-4o-2024-08-06",
                cost_usd=GPT_4O_COST,
            ),
        ),
    )
    assert trace.info.duration_ms == 100.0
    assert trace.spans[2].duration_ms == 60.0


def test_an_unfinished_trace_is_in_progress_and_marked_incomplete() -> None:
    trace = build_trace(
        [make_span("root", 1, end=None), make_span("child", 2, 1, start=1, end=5)],
        incomplete_reason="timeout",
        dropped_spans=4,
    )
    info = trace.info
    assert (info.state, info.end_time_ns, info.duration_ms) == ("IN_PROGRESS", None, None)
    assert (info.complete, info.incomplete_reason, info.dropped_spans) == (False, "timeout", 4)
    assert trace.spans[0].duration_ms is None


@pytest.mark.parametrize(
    ("root_status", "child_status", "state"),
    [
        (StatusCode.UNSET, StatusCode.UNSET, "OK"),
        (StatusCode.OK, StatusCode.UNSET, "OK"),
        (StatusCode.ERROR, StatusCode.UNSET, "ERROR"),
        (StatusCode.OK, StatusCode.ERROR, "OK"),  # a handled error inside does not fail it
    ],
)
def test_the_trace_state_is_the_roots(
    root_status: StatusCode, child_status: StatusCode, state: str
) -> None:
    spans = [
        make_span("root", 1, status=root_status, description="boom" if root_status else None),
        make_span("child", 2, 1, status=child_status),
    ]
    trace = build_trace(spans)
    assert trace.info.state == state


def test_status_and_its_message_are_kept() -> None:
    record = span_record(make_span("x", 1, status=StatusCode.ERROR, description="bad input"))
    assert (record.status, record.status_message) == ("ERROR", "bad input")


def test_the_end_is_the_last_spans_end() -> None:
    trace = build_trace([make_span("root", 1, end=50), make_span("late", 2, 1, start=40, end=70)])
    assert (trace.info.start_time_ns, trace.info.end_time_ns) == (ms(0), ms(70))


# --- order and roots ------------------------------------------------------------------------


def test_spans_come_parents_first_with_siblings_in_start_order() -> None:
    spans = [
        make_span("root", 1, start=0),
        make_span("a", 2, 1, start=10),
        make_span("a.1", 4, 2, start=12),
        make_span("b", 3, 1, start=20),
        make_span("b.1", 5, 3, start=21),
        make_span("b.2", 6, 3, start=25),
        # A skewed clock put this child before its parent; it still comes after it.
        make_span("a.0", 7, 2, start=-5),
    ]
    for seed in range(5):
        shuffled = list(spans)
        random.Random(seed).shuffle(shuffled)
        trace = build_trace(shuffled)
        assert [s.name for s in trace.spans] == ["root", "a", "a.0", "a.1", "b", "b.1", "b.2"]
        assert trace.info.name == "root"
        assert trace.info.start_time_ns == ms(-5)


def test_a_root_with_a_remote_parent_is_the_local_root() -> None:
    trace = build_trace(
        [
            make_span("server", 1, 99, remote_parent=True, start=0),
            make_span("work", 2, 1, start=1),
        ]
    )
    root = trace.spans[0]
    assert (root.name, root.parent_id, root.parent_is_remote) == ("server", sid(99), True)
    assert trace.info.name == "server"
    assert trace.root == root


def test_the_local_root_wins_over_an_orphan_that_started_earlier() -> None:
    # A late span of an earlier part (its parent already exported) started first.
    spans = [make_span("orphan", 5, 42, start=-10), make_span("root", 1, start=0)]
    trace = build_trace(spans)
    assert trace.info.name == "root"
    assert trace.root is not None
    assert trace.root.name == "root"
    assert [s.name for s in trace.spans] == ["orphan", "root"]


def test_a_part_without_its_root_takes_the_earliest_orphan() -> None:
    trace = build_trace([make_span("late b", 6, 42, start=5), make_span("late a", 5, 42, start=1)])
    assert trace.info.name == "late a"
    assert trace.root is not None
    assert trace.root.name == "late a"


# --- parts of one trace, exported apart (other processes, late spans) -----------------------


def caller_part() -> Trace:
    """Service A: its root, and the span that calls service B."""
    return build_trace(
        [
            make_span(
                "a.ask",
                1,
                start=0,
                end=100,
                attributes={"input.value": "question", "genai_trace.tag.team": "a"},
            ),
            make_span("a.call_b", 2, 1, start=5, end=90),
        ]
    )


def service_part() -> Trace:
    """Service B, called by A: its root's parent is remote (A's span 2); it sets a preview."""
    return build_trace(
        [
            make_span(
                "b.handle",
                3,
                2,
                remote_parent=True,
                start=10,
                end=120,  # ends after A's root: B answered early
                status=StatusCode.ERROR,
                attributes={
                    "input.value": "b input",
                    "genai_trace.trace.response_preview": "set by b",
                    "genai_trace.tag.team": "b",
                    "genai_trace.tag.b": "yes",
                    "session.id": "chat-1",
                },
            ),
            make_span(
                "b.llm",
                4,
                3,
                start=20,
                end=70,
                attributes={"llm.token_count.prompt": 7, "llm.token_count.completion": 3},
            ),
        ]
    )


@pytest.mark.parametrize("b_first", [True, False])
def test_parts_from_two_processes_merge_into_one_trace_in_either_order(b_first: bool) -> None:
    a, b = caller_part(), service_part()
    assert b.info.name == "b.handle"  # alone, B's part looks like a trace of its own
    merged = merge_parts([b, a] if b_first else [a, b])
    assert [(s.name, s.parent_id) for s in merged.spans] == [
        ("a.ask", None),
        ("a.call_b", sid(1)),
        ("b.handle", sid(2)),
        ("b.llm", sid(3)),
    ]
    assert merged.info == TraceInfo(
        trace_id=TRACE_HEX,
        name="a.ask",
        state="OK",  # the root's: B's error was handled by A, as within one process
        start_time_ns=ms(0),
        end_time_ns=ms(120),
        request_preview="question",
        response_preview="set by b",  # set explicitly in any part: it wins
        span_count=4,
        tags={"team": "a", "b": "yes"},  # the root's part wins a clash
        session_id="chat-1",
        token_usage=TokenUsage(7, 3, 10),
    )


def test_a_merged_row_merges_again_with_a_late_part() -> None:
    a, b = caller_part(), service_part()
    late = build_trace([make_span("late", 5, 4, start=130, end=140)], incomplete_reason="late_span")
    assert late.info.name == "late"
    step = merge_parts([b, late])  # A's part not there yet: B's root is the outermost
    assert (step.info.name, step.info.span_count, step.info.complete) == ("b.handle", 3, False)
    merged = merge_parts([step, a])
    assert (merged.info.name, merged.info.span_count) == ("a.ask", 5)
    assert (merged.info.end_time_ns, merged.info.incomplete_reason) == (ms(140), "late_span")
    assert merged.info == merge_parts([a, b, late]).info
    again = merge_parts([merged, b])  # a part stored twice counts once
    assert again.info == merged.info


def test_when_every_parent_is_remote_the_outermost_span_is_the_root() -> None:
    # A continues a trace from a browser that exports nothing; B is called by A.
    a = build_trace([make_span("a.server", 1, 77, remote_parent=True, start=0, end=50)])
    b = build_trace([make_span("b.server", 3, 1, remote_parent=True, start=-5, end=40)])
    merged = merge_parts([b, a])
    assert merged.root is not None and merged.root.name == "a.server"
    assert merged.info.name == "a.server"


def test_no_spans_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least one span"):
        build_trace([])


# --- span types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "span_type"),
    [
        ({"genai_trace.span.type": "CHAT_MODEL", "openinference.span.kind": "LLM"}, "CHAT_MODEL"),
        ({"genai_trace.span.type": "my_custom"}, "my_custom"),
        ({"openinference.span.kind": "retriever"}, "RETRIEVER"),
        ({"openinference.span.kind": "AGENT", "gen_ai.operation.name": "chat"}, "AGENT"),
        ({"openinference.span.kind": "UNKNOWN", "gen_ai.operation.name": "chat"}, "CHAT_MODEL"),
        ({"openinference.span.kind": "NOT_A_KIND"}, "UNKNOWN"),
        ({"gen_ai.operation.name": "chat"}, "CHAT_MODEL"),
        ({"gen_ai.operation.name": "embeddings"}, "EMBEDDING"),
        ({"gen_ai.operation.name": "execute_tool"}, "TOOL"),
        ({"gen_ai.operation.name": "invoke_agent"}, "AGENT"),
        ({"gen_ai.operation.name": "retrieval"}, "RETRIEVER"),
        ({"gen_ai.operation.name": "text_completion"}, "LLM"),
        ({"gen_ai.operation.name": "something_new"}, "UNKNOWN"),
        ({"genai_trace.span.type": ""}, "UNKNOWN"),
        ({"http.method": "GET"}, "UNKNOWN"),
        ({}, "UNKNOWN"),
    ],
)
def test_span_type_of(attributes: dict[str, Any], span_type: str) -> None:
    assert span_type_of(attributes) == span_type
    assert span_record(make_span("s", 1, attributes=attributes)).span_type == span_type


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.system": "openai"}, True),
        ({"openinference.span.kind": "CHAIN"}, True),
        ({"genai_trace.span.type": "TOOL"}, True),
        ({"http.method": "GET", "db.system": "sqlite"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_is_genai_span(attributes: dict[str, Any] | None, expected: bool) -> None:
    assert is_genai_span(attributes) is expected


# --- inputs and outputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "inputs"),
    [
        ({"input.value": '{"a": 1}', "input.mime_type": "application/json"}, {"a": 1}),
        ({"input.value": '{"a": 1}', "input.mime_type": "text/plain"}, '{"a": 1}'),
        ({"input.value": '{"a": 1}'}, '{"a": 1}'),  # no mime type: text, as written
        ({"input.value": "{broken", "input.mime_type": "application/json"}, "{broken"),
        ({"gen_ai.input.messages": '[{"role": "user", "content": "hi"}]'},
         [{"role": "user", "content": "hi"}]),
        ({"gen_ai.input.messages": ('{"role": "user", "content": "hi"}', "not json")},
         [{"role": "user", "content": "hi"}, "not json"]),
        ({"gen_ai.input.messages": "not json"}, "not json"),
        ({"input.value": "wins", "gen_ai.input.messages": "[]"}, "wins"),
        ({}, None),
    ],
)  # fmt: skip
def test_inputs_are_decoded(attributes: dict[str, Any], inputs: object) -> None:
    assert span_record(make_span("s", 1, attributes=attributes)).inputs == inputs


def test_outputs_are_decoded_from_output_value_or_gen_ai_output_messages() -> None:
    messages = [{"role": "assistant", "parts": [{"type": "text", "content": "yo"}]}]
    from_value = make_span(
        "a", 1, attributes={"output.value": "[1]", "output.mime_type": "application/json"}
    )
    from_messages = make_span("b", 2, attributes={"gen_ai.output.messages": json.dumps(messages)})
    assert span_record(from_value).outputs == [1]
    assert span_record(from_messages).outputs == messages


SYSTEM_PART = '[{"content": "Be kind.", "type": "text"}]'


@pytest.mark.parametrize(
    ("attributes", "inputs"),
    [
        # System instructions recorded apart (Responses API, Anthropic) lead the messages.
        ({"gen_ai.system_instructions": SYSTEM_PART,
          "gen_ai.input.messages": '[{"role": "user", "parts": []}]'},
         [{"role": "system", "parts": [{"content": "Be kind.", "type": "text"}]},
          {"role": "user", "parts": []}]),
        ({"gen_ai.system_instructions": SYSTEM_PART},
         [{"role": "system", "parts": [{"content": "Be kind.", "type": "text"}]}]),
        ({"gen_ai.system_instructions": "plain text"},
         [{"role": "system", "parts": ["plain text"]}]),
        # execute_tool spans: the call's arguments; retrieval spans: the query.
        ({"gen_ai.tool.call.arguments": '{"city": "Paris"}'}, {"city": "Paris"}),
        ({"gen_ai.tool.call.arguments": "Paris"}, "Paris"),
        ({"gen_ai.retrieval.query.text": "[not json]"}, "[not json]"),
        ({"input.value": "wins", "gen_ai.tool.call.arguments": "{}"}, "wins"),
    ],
)  # fmt: skip
def test_gen_ai_inputs_of_other_operations(attributes: dict[str, Any], inputs: object) -> None:
    assert span_record(make_span("s", 1, attributes=attributes)).inputs == inputs


@pytest.mark.parametrize(
    ("attributes", "outputs"),
    [
        ({"gen_ai.tool.call.result": '{"temperature": 21}'}, {"temperature": 21}),
        ({"gen_ai.retrieval.documents": '[{"id": "d1", "score": 0.9}]'},
         [{"id": "d1", "score": 0.9}]),
        ({"output.value": "wins", "gen_ai.tool.call.result": "{}"}, "wins"),
        ({"gen_ai.operation.name": "embeddings"}, None),
    ],
)  # fmt: skip
def test_gen_ai_outputs_of_other_operations(attributes: dict[str, Any], outputs: object) -> None:
    assert span_record(make_span("s", 1, attributes=attributes)).outputs == outputs


def test_time_to_first_chunk_is_also_given_in_ms_under_our_name() -> None:
    streamed = span_record(
        make_span("chat m", 1, attributes={"gen_ai.response.time_to_first_chunk": 0.25})
    )
    assert streamed.attributes == {
        "gen_ai.response.time_to_first_chunk": 0.25,
        "genai_trace.time_to_first_item_ms": 250.0,
    }
    ours = {"gen_ai.response.time_to_first_chunk": 0.25, "genai_trace.time_to_first_item_ms": 7}
    assert span_record(make_span("gen", 2, attributes=ours)).attributes == ours  # ours stays
    bad = {"gen_ai.response.time_to_first_chunk": "soon"}
    assert span_record(make_span("odd", 3, attributes=bad)).attributes == bad


@pytest.mark.parametrize(
    ("attributes", "model"),
    [
        ({"gen_ai.request.model": "req", "gen_ai.response.model": "resp"}, "resp"),
        ({"gen_ai.request.model": "req", "llm.model_name": "oi"}, "req"),
        ({"llm.model_name": "oi"}, "oi"),
        ({"gen_ai.response.model": ""}, None),
        ({}, None),
    ],
)
def test_the_model_is_the_response_model_then_the_request_model(
    attributes: dict[str, Any], model: str | None
) -> None:
    assert span_record(make_span("s", 1, attributes=attributes)).model == model


# --- previews -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "preview"),
    [
        (None, None),
        ("plain text", "plain text"),
        ({"messages": [{"role": "system", "content": "be brief"},
                       {"role": "user", "content": "first"},
                       {"role": "assistant", "content": "ok"},
                       {"role": "user", "content": "last question"}]}, "last question"),
        ([{"role": "user", "content": [{"type": "text", "text": "part 1"},
                                       {"type": "image_url", "image_url": {"url": "x"}},
                                       {"type": "text", "text": "part 2"}]}], "part 1\npart 2"),
        ([{"role": "user", "parts": [{"type": "text", "content": "otel shape"}]}], "otel shape"),
        ({"conversation": [{"role": "user", "content": "found by shape"}], "k": 1},
         "found by shape"),
        ({"messages": [{"role": "system", "content": "only system"}]},
         '{"messages":[{"role":"system","content":"only system"}]}'),
        ({"query": "a lone string"}, "a lone string"),
        ({"query": "q", "k": 3}, '{"query":"q","k":3}'),
        ({"k": 3}, '{"k":3}'),
        ([1, 2], "[1,2]"),
        ("x" * 1500, "x" * 976 + "...[truncated 524 chars]"),
    ],
)  # fmt: skip
def test_request_preview(inputs: object, preview: str | None) -> None:
    assert request_preview(inputs) == preview


OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}
TOOL_CALL = {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function",
                             "function": {"name": "f", "arguments": "{}"}}]}  # fmt: skip
RESPONSES_API = {
    "id": "resp_1",
    "object": "response",
    "output": [
        {"type": "reasoning", "summary": []},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "From the Responses API."}]},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("outputs", "preview"),
    [
        (None, None),
        ("plain", "plain"),
        (OPENAI_CHAT, "Paris."),
        ({"choices": [{"message": TOOL_CALL}]}, json.dumps(TOOL_CALL, separators=(",", ":"))),
        ({"output_text": "convenience text", "output": []}, "convenience text"),
        (RESPONSES_API, "From the Responses API."),
        ({"role": "assistant", "content": [{"type": "text", "text": "anthropic"}]}, "anthropic"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "a"),
        ([{"role": "assistant", "parts": [{"type": "text", "content": "otel"}]}], "otel"),
        ({"answer": "a lone string"}, "a lone string"),
        ({"answer": "a", "sources": []}, '{"answer":"a","sources":[]}'),
        ([1, {"a": None}], '[1,{"a":null}]'),
        (42, "42"),
    ],
)
def test_response_preview(outputs: object, preview: str | None) -> None:
    assert response_preview(outputs) == preview


def test_previews_are_capped() -> None:
    long_chat = {"choices": [{"message": {"role": "assistant", "content": "y" * 5000}}]}
    for preview in (
        request_preview({"messages": [{"role": "user", "content": "x" * 5000}]}),
        response_preview(long_chat),
        request_preview({"numbers": list(range(5000))}),
    ):
        assert preview is not None
        assert PREVIEW_MAX_CHARS - 5 <= len(preview) <= PREVIEW_MAX_CHARS
        assert "...[truncated" in preview


def test_update_previews_win_over_root_attributes_which_win_over_computed() -> None:
    attributes = {"input.value": "computed request", "output.value": "computed response"}
    with_attributes = {
        **attributes,
        "genai_trace.trace.request_preview": "attribute request",
        "genai_trace.trace.response_preview": "x" * 3000,
    }
    computed = build_trace([make_span("r", 1, attributes=attributes)]).info
    from_root = build_trace([make_span("r", 1, attributes=with_attributes)]).info
    updated = build_trace(
        [make_span("r", 1, attributes=with_attributes)],
        TraceUpdates(request_preview="update request", response_preview="update response"),
    ).info
    assert (computed.request_preview, computed.response_preview) == (
        "computed request",
        "computed response",
    )
    assert from_root.request_preview == "attribute request"
    assert from_root.response_preview == "x" * 975 + "...[truncated 2025 chars]"
    assert (updated.request_preview, updated.response_preview) == (
        "update request",
        "update response",
    )


def test_only_the_roots_preview_attributes_count() -> None:
    spans = [
        make_span("root", 1, attributes={"input.value": "root input"}),
        make_span("child", 2, 1, attributes={"genai_trace.trace.request_preview": "child's"}),
    ]
    assert build_trace(spans).info.request_preview == "root input"


# --- tags, metadata, session, user, client request id -----------------------------------------


def test_trace_facts_merge_span_attributes_and_updates() -> None:
    spans = [
        make_span(
            "root",
            1,
            attributes={
                "genai_trace.tag.env": "prod",
                "genai_trace.tag.team": "search",
                "metadata": '{"version": 1, "region": "eu"}',
                "genai_trace.trace.client_request_id": "from-root",
            },
        ),
        make_span(
            "child",
            2,
            1,
            start=1,
            attributes={
                "genai_trace.tag.step": "rerank",
                "metadata": '{"version": 2}',
                "session.id": "s-child",
                "user.id": "u-child",
            },
        ),
        make_span("bad metadata", 3, 1, start=2, attributes={"metadata": "not json"}),
        make_span("list metadata", 4, 1, start=3, attributes={"metadata": "[1, 2]"}),
    ]
    info = build_trace(
        spans, TraceUpdates(tags={"team": "core"}, metadata={"region": "us"}, user_id="u-update")
    ).info
    assert dict(info.tags) == {"env": "prod", "team": "core", "step": "rerank"}
    assert dict(info.metadata) == {"version": 2, "region": "us"}
    assert (info.session_id, info.user_id) == ("s-child", "u-update")
    assert info.client_request_id == "from-root"


def test_client_request_id_and_session_from_updates_win() -> None:
    spans = [make_span("root", 1, attributes={"session.id": "s-attr"})]
    info = build_trace(spans, TraceUpdates(client_request_id="req-9", session_id="s-upd")).info
    assert (info.client_request_id, info.session_id) == ("req-9", "s-upd")


# --- token usage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "usage"),
    [
        ({"llm.token_count.prompt": 10, "llm.token_count.completion": 5,
          "llm.token_count.total": 16}, TokenUsage(10, 5, 16)),
        ({"llm.token_count.prompt": 10, "llm.token_count.completion": 5}, TokenUsage(10, 5, 15)),
        ({"llm.token_count.total": 7}, TokenUsage(0, 0, 7)),
        ({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4}, TokenUsage(3, 4, 7)),
        ({"gen_ai.usage.input_tokens": 3.0}, TokenUsage(3, 0, 3)),
        ({"llm.token_count.prompt": 1, "gen_ai.usage.input_tokens": 99}, TokenUsage(1, 0, 1)),
        ({"gen_ai.usage.input_tokens": True}, None),
        ({"gen_ai.usage.input_tokens": "3"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_token_usage_of(attributes: dict[str, Any], usage: TokenUsage | None) -> None:
    assert token_usage_of(attributes) == usage


@pytest.mark.parametrize(
    ("outputs", "usage"),
    [
        (OPENAI_CHAT, TokenUsage(9, 2, 11)),
        ({"usage": {"input_tokens": 4, "output_tokens": 6}}, TokenUsage(4, 6, 10)),
        ({"usage": {"prompt_tokens": None, "input_tokens": 4}}, TokenUsage(4, 0, 4)),
        ({"usage": {"total_tokens": 5}}, TokenUsage(0, 0, 5)),
        ({"usage": {}}, None),
        ({"usage": "lots"}, None),
        ({"no": "usage"}, None),
        ("text", None),
        (None, None),
    ],
)
def test_usage_from_output(outputs: object, usage: TokenUsage | None) -> None:
    assert usage_from_output(outputs) == usage


def test_usage_is_read_from_the_output_of_llm_spans_only() -> None:
    output = {"output.value": json.dumps(OPENAI_CHAT), "output.mime_type": "application/json"}
    llm = span_record(make_span("llm", 1, attributes={**output, "genai_trace.span.type": "LLM"}))
    chain = span_record(make_span("c", 2, attributes={**output, "genai_trace.span.type": "CHAIN"}))
    assert llm.token_usage == TokenUsage(9, 2, 11)
    assert chain.token_usage is None


def test_attributes_win_over_the_output_usage() -> None:
    attributes = {
        "genai_trace.span.type": "CHAT_MODEL",
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 1,
        "output.value": json.dumps(OPENAI_CHAT),
        "output.mime_type": "application/json",
    }
    assert span_record(make_span("s", 1, attributes=attributes)).token_usage == TokenUsage(1, 1, 2)


def test_totals_do_not_count_a_wrapping_span_whose_descendant_has_usage() -> None:
    usage = {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}
    spans = [
        make_span("agent", 1, attributes={"genai_trace.span.type": "AGENT"}),
        # A manual LLM span wrapping the instrumented client's chat span: same tokens.
        make_span("my llm", 2, 1, attributes={"genai_trace.span.type": "LLM", **usage}),
        make_span("http", 3, 2),
        make_span("chat", 4, 3, attributes={"gen_ai.operation.name": "chat", **usage}),
        # A second, separate call counts on its own.
        make_span("chat 2", 5, 1, start=20, attributes={"gen_ai.operation.name": "chat",
                                                        "gen_ai.usage.input_tokens": 1,
                                                        "gen_ai.usage.output_tokens": 2}),
    ]  # fmt: skip
    trace = build_trace(spans)
    assert trace.info.token_usage == TokenUsage(11, 7, 18)
    assert total_token_usage(trace.spans) == TokenUsage(11, 7, 18)


def test_a_trace_without_usage_has_none() -> None:
    assert build_trace([make_span("root", 1)]).info.token_usage is None
    assert total_token_usage([]) is None


# --- the Trace helpers ------------------------------------------------------------------------


def _tree() -> Trace:
    return build_trace(
        [
            make_span("root", 1, start=0),
            make_span("a", 2, 1, start=1),
            make_span("a.1", 3, 2, start=2),
            make_span("b", 4, 1, start=3),
            make_span("dup", 5, 4, start=4),
            make_span("dup", 6, 4, start=5),
        ]
    )


def test_walk_yields_depth_first_with_depths() -> None:
    assert [(s.name, depth) for s, depth in _tree().walk()] == [
        ("root", 0),
        ("a", 1),
        ("a.1", 2),
        ("b", 1),
        ("dup", 2),
        ("dup", 2),
    ]


def test_children_are_the_direct_children_in_start_order() -> None:
    trace = _tree()
    assert [s.name for s in trace.children(sid(1))] == ["a", "b"]
    assert [s.span_id for s in trace.children(sid(4))] == [sid(5), sid(6)]
    assert trace.children(sid(3)) == []
    assert trace.children("no such span") == []


def test_get_span_by_id_then_by_first_name() -> None:
    trace = _tree()
    assert trace.get_span(sid(6)) == trace.spans[5]
    assert trace.get_span("dup") == trace.spans[4]
    assert trace.get_span("missing") is None


def test_root_of_a_trace() -> None:
    trace = _tree()
    assert trace.root == trace.spans[0]
    assert Trace(info=trace.info, spans=()).root is None


def test_to_dict_and_to_json_hold_every_field() -> None:
    trace = build_trace(
        [
            make_span(
                "root",
                1,
                attributes={"input.value": "q", "gen_ai.usage.input_tokens": 2},
                events=[Event("e", {"k": "v"}, timestamp=ms(1))],
            )
        ]
    )
    as_dict = trace.to_dict()
    info = as_dict.pop("info")
    spans = as_dict.pop("spans")
    assert as_dict == {}
    assert info == {
        "trace_id": TRACE_HEX,
        "name": "root",
        "state": "OK",
        "start_time_ns": ms(0),
        "end_time_ns": ms(10),
        "request_preview": "q",
        "response_preview": None,
        "span_count": 1,
        "client_request_id": None,
        "tags": {},
        "metadata": {},
        "session_id": None,
        "user_id": None,
        "token_usage": {"input_tokens": 2, "output_tokens": 0, "total_tokens": 2},
        "complete": True,
        "incomplete_reason": None,
        "dropped_spans": 0,
        "duration_ms": 10.0,
    }
    assert spans == [
        {
            "trace_id": TRACE_HEX,
            "span_id": sid(1),
            "parent_id": None,
            "name": "root",
            "span_type": "UNKNOWN",
            "start_time_ns": ms(0),
            "end_time_ns": ms(10),
            "status": "UNSET",
            "status_message": None,
            "inputs": "q",
            "outputs": None,
            "attributes": {"input.value": "q", "gen_ai.usage.input_tokens": 2},
            "events": [{"name": "e", "timestamp_ns": ms(1), "attributes": {"k": "v"}}],
            "token_usage": {"input_tokens": 2, "output_tokens": 0, "total_tokens": 2},
            "model": None,
            "parent_is_remote": False,
            "kind": "INTERNAL",
            "instrumentation_scope": None,
            "duration_ms": 10.0,
        },
    ]
    assert json.loads(trace.to_json()) == {"info": info, "spans": spans}
    assert trace.to_json(indent=2).startswith('{\n  "info": {')


def test_to_json_survives_values_json_cannot_hold() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    trace = build_trace([make_span("root", 1)])
    odd = Trace(
        info=trace.info,
        spans=(SpanRecord(**{**trace.spans[0].__dict__, "inputs": Hostile(), "outputs": {1, 2}}),),
    )
    decoded = json.loads(odd.to_json())
    assert decoded["spans"][0]["inputs"] == (
        f"<unrepresentable {Hostile.__qualname__}: __repr__ raised RuntimeError>"
    )
    assert decoded["spans"][0]["outputs"] == "{1, 2}"


def test_an_invalid_parent_context_means_no_parent() -> None:
    span = ReadableSpan(
        name="root",
        context=SpanContext(TRACE_ID, 1, is_remote=False),
        parent=SpanContext(0, 0, is_remote=True),
        start_time=ms(0),
        end_time=ms(1),
    )
    record = span_record(span)
    assert (record.parent_id, record.parent_is_remote) == (None, False)


def test_a_deep_chain_of_llm_spans_totals_in_linear_time() -> None:
    depth = 20_000
    template = span_record(
        make_span(
            "llm", 1, attributes={"gen_ai.usage.input_tokens": 1, "genai_trace.span.type": "LLM"}
        )
    )
    chain = [
        dataclasses.replace(template, span_id=sid(i + 1), parent_id=sid(i) if i else None)
        for i in range(depth)
    ]
    started = time.perf_counter()
    assert total_token_usage(chain) == TokenUsage(1, 0, 1)  # only the innermost counts
    assert time.perf_counter() - started < 1.0
