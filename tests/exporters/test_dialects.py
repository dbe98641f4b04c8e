"""Each dialect as a pure function on a real trace: the exact attributes every span carries.

The trace comes from decorated functions (CHAIN -> RETRIEVER + LLM) through
capture_traces(); each test pops every expected key and then asserts nothing is left.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

import genai_trace
from genai_trace import SpanType, Trace
from genai_trace.exporters.dialects import default, genai, get_dialect, mlflow
from genai_trace.exporters.otlp_json import traces_to_otlp_json
from genai_trace.testing import capture_traces
from tests.helpers.apps.rag_app import (
    CLIENT_REQUEST_ID,
    DOCS,
    MESSAGES,
    METADATA,
    QUESTION,
    REPLY,
    RESPONSE_PREVIEW,
    answer,
)


@pytest.fixture
def trace() -> Trace:
    with capture_traces() as traces, genai_trace.context(session_id="s-1", user_id="u-1"):
        answer(QUESTION)
    assert len(traces) == 1
    return traces[0]


def spans_of(trace: Trace) -> tuple[str, str, str]:
    root, retriever, llm = trace.spans
    assert (root.name, retriever.name, llm.name) == ("answer", "retrieve", "complete")
    return root.span_id, retriever.span_id, llm.span_id


def pop_all(attributes: dict[str, Any], expected: dict[str, Any]) -> None:
    """Pop every expected key, comparing values, then require that nothing is left."""
    for key, value in expected.items():
        assert key in attributes, key
        assert attributes.pop(key) == value, key
    assert attributes == {}


SCOPE = {"session.id": "s-1", "user.id": "u-1"}
LLM_RECORDED = {
    "llm.model_name": "fake-model",
    "llm.token_count.prompt": 12,
    "llm.token_count.completion": 7,
    "llm.token_count.total": 19,
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
}
TRACE_FACTS = {
    "genai_trace.trace.state": "OK",
    "genai_trace.trace.span_count": 3,
    "genai_trace.trace.complete": True,
    "genai_trace.trace.request_preview": QUESTION,
    "genai_trace.trace.response_preview": RESPONSE_PREVIEW,
    "genai_trace.trace.client_request_id": CLIENT_REQUEST_ID,
    "genai_trace.trace.input_tokens": 12,
    "genai_trace.trace.output_tokens": 7,
    "genai_trace.trace.total_tokens": 19,
}


def test_default_dialect_keeps_the_recorded_attributes_and_puts_trace_facts_on_the_root(
    trace: Trace,
) -> None:
    root_id, retriever_id, llm_id = spans_of(trace)
    out = default.span_attributes(trace)
    assert sorted(out) == sorted([root_id, retriever_id, llm_id])
    pop_all(
        out[root_id],
        {
            **SCOPE,
            **TRACE_FACTS,
            "openinference.span.kind": "CHAIN",
            "input.value": json.dumps({"question": QUESTION}, separators=(",", ":")),
            "input.mime_type": "application/json",
            "output.value": REPLY["content"],  # a string stays a string: no JSON quotes
            "genai_trace.tag.env": "test",
            "genai_trace.tag.team": "rag",
            "tag.tags": ["env=test", "team=rag"],
            "metadata": json.dumps(METADATA, separators=(",", ":")),
        },
    )
    pop_all(
        out[retriever_id],
        {
            **SCOPE,
            "openinference.span.kind": "RETRIEVER",
            "input.value": json.dumps({"query": QUESTION}, separators=(",", ":")),
            "input.mime_type": "application/json",
            "output.value": json.dumps(DOCS, separators=(",", ":")),
            "output.mime_type": "application/json",
        },
    )
    pop_all(
        out[llm_id],
        {
            **SCOPE,
            **LLM_RECORDED,
            "openinference.span.kind": "LLM",
            "input.value": json.dumps({"messages": MESSAGES}, separators=(",", ":")),
            "input.mime_type": "application/json",
            "output.value": json.dumps(REPLY, separators=(",", ":")),
            "output.mime_type": "application/json",
        },
    )


def test_default_dialect_does_not_change_the_trace(trace: Trace) -> None:
    before = trace.to_json()
    default.span_attributes(trace)
    mlflow.span_attributes(trace)
    genai.span_attributes(trace)
    assert trace.to_json() == before


def test_mlflow_dialect_writes_mlflow_keys_in_mlflows_own_encoding(trace: Trace) -> None:
    root_id, retriever_id, llm_id = spans_of(trace)
    out = mlflow.span_attributes(trace)
    request_id = json.dumps(f"tr-{trace.info.trace_id}")
    pop_all(
        out[root_id],
        {
            **SCOPE,
            **TRACE_FACTS,
            "openinference.span.kind": "CHAIN",
            "metadata": json.dumps(METADATA, separators=(",", ":")),
            "mlflow.traceRequestId": request_id,
            "mlflow.spanType": '"CHAIN"',
            "mlflow.spanInputs": json.dumps({"question": QUESTION}),
            "mlflow.spanOutputs": json.dumps(REPLY["content"]),
            "mlflow.traceTag.env": "test",  # tags are plain strings, as MLflow reads them
            "mlflow.traceTag.team": "rag",
        },
    )
    pop_all(
        out[retriever_id],
        {
            **SCOPE,
            "openinference.span.kind": "RETRIEVER",
            "mlflow.traceRequestId": request_id,
            "mlflow.spanType": '"RETRIEVER"',
            "mlflow.spanInputs": json.dumps({"query": QUESTION}),
            "mlflow.spanOutputs": json.dumps(DOCS, ensure_ascii=False),
        },
    )
    pop_all(
        out[llm_id],
        {
            **SCOPE,
            **LLM_RECORDED,
            "openinference.span.kind": "LLM",
            "mlflow.traceRequestId": request_id,
            "mlflow.spanType": '"LLM"',
            "mlflow.spanInputs": json.dumps({"messages": MESSAGES}),
            "mlflow.spanOutputs": json.dumps(REPLY),
            "mlflow.chat.tokenUsage": json.dumps(
                {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}
            ),
        },
    )


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ({"q": "hi"}, '{"q": "hi"}'),
        ([1, "a"], '[1, "a"]'),
        ("hi", '"hi"'),
        ("42", '"42"'),  # a string that looks like a number stays a string in MLflow
        (42, 42),  # numbers and booleans native: as JSON text MLflow would read a string
        (1.5, 1.5),
        (True, True),
        (None, "null"),
    ],
)
def test_mlflow_value(value: Any, sent: Any) -> None:
    assert mlflow.mlflow_value(value) == sent
    assert type(mlflow.mlflow_value(value)) is type(sent)


def test_mlflow_trace_info_request_carries_our_previews_tags_and_metadata(trace: Trace) -> None:
    body = mlflow.start_trace_request(trace, experiment_id="7")
    info = body.pop("trace").pop("trace_info")
    assert body == {}
    start_s, start_ns = divmod(trace.info.start_time_ns, 1_000_000_000)
    start = datetime.fromtimestamp(start_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert info.pop("request_time") == f"{start}.{start_ns:09d}Z"
    assert trace.info.end_time_ns is not None
    duration_ns = trace.info.end_time_ns - trace.info.start_time_ns
    assert info.pop("execution_duration") == f"0.{duration_ns:09d}s"
    pop_all(
        info,
        {
            "trace_id": f"tr-{trace.info.trace_id}",
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": "7"},
            },
            "state": "OK",
            "request_preview": QUESTION,
            "response_preview": RESPONSE_PREVIEW,
            "client_request_id": CLIENT_REQUEST_ID,
            "tags": {"mlflow.traceName": "answer", "env": "test", "team": "rag"},
            "trace_metadata": {
                "release": "1.2",
                "n": "3",  # MLflow metadata values are strings: non-strings go as JSON
                "mlflow.trace.session": "s-1",
                "mlflow.trace.user": "u-1",
                "mlflow.trace.tokenUsage": json.dumps(
                    {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}
                ),
            },
        },
    )


def test_mlflow_trace_info_truncates_to_mlflows_limits() -> None:
    with capture_traces() as traces:
        with genai_trace.start_span("long"):
            genai_trace.update_current_trace(metadata={"m": "x" * 300}, tags={"t": "y" * 5000})
    info = mlflow.start_trace_request(traces[0], "0")["trace"]["trace_info"]
    assert len(info["trace_metadata"]["m"]) == mlflow.MAX_METADATA_VALUE_CHARS
    assert len(info["tags"]["t"]) == mlflow.MAX_TAG_VALUE_CHARS
    assert "request_preview" not in info and "client_request_id" not in info


def test_genai_dialect_sends_only_gen_ai_keys_and_ours(trace: Trace) -> None:
    root_id, retriever_id, llm_id = spans_of(trace)
    out = genai.span_attributes(trace)
    pop_all(
        out[root_id],
        {
            **SCOPE,
            **TRACE_FACTS,
            "gen_ai.conversation.id": "s-1",
            "genai_trace.tag.env": "test",
            "genai_trace.tag.team": "rag",
            "genai_trace.trace.metadata": json.dumps(METADATA, separators=(",", ":")),
        },
    )
    pop_all(
        out[retriever_id],
        {
            **SCOPE,
            "gen_ai.conversation.id": "s-1",
            "gen_ai.operation.name": "retrieval",
            "gen_ai.retrieval.query.text": QUESTION,
            "gen_ai.retrieval.documents": json.dumps(DOCS, separators=(",", ":")),
        },
    )
    pop_all(
        out[llm_id],
        {
            **SCOPE,
            "gen_ai.conversation.id": "s-1",
            "gen_ai.operation.name": "chat",  # an LLM span whose input is a chat
            "gen_ai.request.model": "fake-model",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 7,
            "gen_ai.input.messages": json.dumps(
                [
                    {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                    {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
                ],
                separators=(",", ":"),
            ),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": REPLY["content"]}]}],
                separators=(",", ":"),
            ),
        },
    )


def test_genai_dialect_tools_agents_and_openai_choices() -> None:
    @genai_trace.trace(span_type=SpanType.TOOL)
    def get_weather(city: str) -> dict[str, int]:
        return {"celsius": 21}

    @genai_trace.trace(span_type=SpanType.CHAT_MODEL)
    def chat(prompt: str) -> dict[str, Any]:
        message = {"role": "assistant", "content": "hi"}
        return {"choices": [{"message": message, "finish_reason": "stop"}]}

    @genai_trace.trace(span_type=SpanType.AGENT)
    def agent() -> None:
        get_weather("Oslo")
        chat("hello")

    with capture_traces() as traces:
        agent()
    root, tool, llm = traces[0].spans
    out = genai.span_attributes(traces[0])
    assert out[root.span_id]["gen_ai.operation.name"] == "invoke_agent"
    assert out[root.span_id]["gen_ai.agent.name"] == "agent"
    pop_all(
        out[tool.span_id],
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.arguments": '{"city":"Oslo"}',
            "gen_ai.tool.call.result": '{"celsius":21}',
        },
    )
    pop_all(
        out[llm.span_id],
        {
            "genai_trace.span.type": "CHAT_MODEL",  # the exact type, genai-trace's own key
            "gen_ai.operation.name": "chat",
            "gen_ai.output.messages": json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": "hi"}],
                        "finish_reason": "stop",
                    }
                ],
                separators=(",", ":"),
            ),
        },
    )


def test_get_dialect() -> None:
    assert get_dialect("default") is default.span_attributes
    assert get_dialect("mlflow") is mlflow.span_attributes
    assert get_dialect("genai") is genai.span_attributes

    def custom(trace: Trace) -> dict[str, dict[str, Any]]:
        return {}

    assert get_dialect(custom) is custom
    with pytest.raises(ValueError, match="unknown dialect 'jaeger'; choose one of default"):
        get_dialect("jaeger")


def test_otlp_json_has_hex_ids_integer_enums_and_typed_values(trace: Trace) -> None:
    request = traces_to_otlp_json([trace], dialect="default")
    (resource_spans,) = request["resourceSpans"]
    (scope_spans,) = resource_spans["scopeSpans"]
    assert scope_spans["scope"] == {"name": "genai_trace"}
    spans = {s["name"]: s for s in scope_spans["spans"]}
    root, retriever, llm = (spans[n] for n in ("answer", "retrieve", "complete"))
    root_id, retriever_id, llm_id = spans_of(trace)
    assert {s["traceId"] for s in spans.values()} == {trace.info.trace_id}
    assert (root["spanId"], retriever["spanId"], llm["spanId"]) == (root_id, retriever_id, llm_id)
    assert "parentSpanId" not in root
    assert retriever["parentSpanId"] == llm["parentSpanId"] == root_id
    assert root["kind"] == 1  # SPAN_KIND_INTERNAL, as an integer
    assert root["startTimeUnixNano"] == str(trace.spans[0].start_time_ns)
    values = {a["key"]: a["value"] for a in root["attributes"]}
    assert values["genai_trace.trace.state"] == {"stringValue": "OK"}
    assert values["genai_trace.trace.span_count"] == {"intValue": "3"}
    assert values["genai_trace.trace.complete"] == {"boolValue": True}
    assert values["tag.tags"] == {
        "arrayValue": {"values": [{"stringValue": "env=test"}, {"stringValue": "team=rag"}]}
    }
    llm_values = {a["key"]: a["value"] for a in llm["attributes"]}
    assert llm_values["llm.token_count.total"] == {"intValue": "19"}
    json.dumps(request)  # plain data


def test_otlp_json_error_status_is_an_integer_code() -> None:
    with capture_traces() as traces, pytest.raises(RuntimeError):
        with genai_trace.start_span("fails"):
            raise RuntimeError("boom")
    (span,) = traces_to_otlp_json(traces)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert span["status"] == {"code": 2, "message": "RuntimeError: boom"}
    assert [e["name"] for e in span["events"]] == ["exception"]


def test_default_dialect_adds_open_conventions_to_a_gen_ai_only_span() -> None:
    from opentelemetry import trace as trace_api

    llm_client = trace_api.get_tracer("opentelemetry.instrumentation.genai.openai")
    messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    with capture_traces() as traces:
        with genai_trace.start_span("chain"):
            with llm_client.start_as_current_span("chat gpt-4o") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.request.model", "gpt-4o")
                span.set_attribute("gen_ai.input.messages", json.dumps(messages))
                span.set_attribute("gen_ai.usage.input_tokens", 5)
                span.set_attribute("gen_ai.usage.output_tokens", 2)
    (trace,) = traces
    chat = trace.get_span("chat gpt-4o")
    assert chat is not None and (chat.kind, chat.instrumentation_scope) == (
        "INTERNAL",
        "opentelemetry.instrumentation.genai.openai",
    )
    attributes = default.span_attributes(trace)[chat.span_id]
    for key, value in {
        "openinference.span.kind": "LLM",
        "genai_trace.span.type": "CHAT_MODEL",
        "input.value": json.dumps(messages, separators=(",", ":")),
        "input.mime_type": "application/json",
        "llm.token_count.prompt": 5,
        "llm.token_count.completion": 2,
        "llm.token_count.total": 7,
        "llm.model_name": "gpt-4o",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.input.messages": json.dumps(messages),
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 2,
    }.items():
        assert attributes.pop(key) == value, key
    assert attributes == {}


def test_cache_and_reasoning_tokens_reach_every_dialect_under_its_own_keys() -> None:
    from opentelemetry import trace as trace_api

    # One call as the official GenAI instrumentation records it, one as OpenInference's
    # do: each dialect names the cached and reasoning tokens its backend reads.
    genai_client = trace_api.get_tracer("opentelemetry.instrumentation.genai.openai")
    openinference_client = trace_api.get_tracer("openinference.instrumentation.openai")
    with capture_traces() as traces:
        with genai_trace.start_span("chain"):
            with genai_client.start_as_current_span("chat gpt-4o") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.usage.input_tokens", 100)
                span.set_attribute("gen_ai.usage.output_tokens", 30)
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", 60)
                span.set_attribute("gen_ai.usage.cache_creation.input_tokens", 20)
                span.set_attribute("gen_ai.usage.reasoning.output_tokens", 10)
            with openinference_client.start_as_current_span("ChatCompletion") as span:
                span.set_attribute("openinference.span.kind", "LLM")
                span.set_attribute("llm.token_count.prompt", 50)
                span.set_attribute("llm.token_count.completion", 8)
                span.set_attribute("llm.token_count.total", 58)
                span.set_attribute("llm.token_count.prompt_details.cache_read", 40)
                span.set_attribute("llm.token_count.prompt_details.cache_write", 5)
                span.set_attribute("llm.token_count.completion_details.reasoning", 3)
    (trace,) = traces
    genai_call, openinference_call = trace.get_span("chat gpt-4o"), trace.get_span("ChatCompletion")
    assert genai_call is not None and openinference_call is not None
    assert genai_call.token_usage == genai_trace.TokenUsage(100, 30, 130, 60, 20, 10)
    assert openinference_call.token_usage == genai_trace.TokenUsage(50, 8, 58, 40, 5, 3)

    sent = default.span_attributes(trace)[genai_call.span_id]
    assert {k: v for k, v in sent.items() if k.startswith("llm.token_count.")} == {
        "llm.token_count.prompt": 100,
        "llm.token_count.completion": 30,
        "llm.token_count.total": 130,
        "llm.token_count.prompt_details.cache_read": 60,
        "llm.token_count.prompt_details.cache_write": 20,
        "llm.token_count.completion_details.reasoning": 10,
    }
    sent = genai.span_attributes(trace)[openinference_call.span_id]
    assert {k: v for k, v in sent.items() if k.startswith("gen_ai.usage.")} == {
        "gen_ai.usage.input_tokens": 50,
        "gen_ai.usage.output_tokens": 8,
        "gen_ai.usage.cache_read.input_tokens": 40,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 3,
    }
    assert not any(k.startswith("llm.") for k in sent)
    sent = mlflow.span_attributes(trace)[openinference_call.span_id]
    assert json.loads(sent["mlflow.chat.tokenUsage"]) == {
        "input_tokens": 50,
        "output_tokens": 8,
        "total_tokens": 58,
        "cache_read_input_tokens": 40,
        "cache_creation_input_tokens": 5,
    }
    body = mlflow.start_trace_request(trace, experiment_id="0")
    assert json.loads(body["trace"]["trace_info"]["trace_metadata"]["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 150,
        "output_tokens": 38,
        "total_tokens": 188,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 25,
    }


def test_default_dialect_leaves_out_a_computed_preview_that_repeats_the_root_text() -> None:
    @genai_trace.trace
    def ask(question: str, top_k: int) -> dict[str, Any]:
        return {"answer": "OTLP is a protocol.", "sources": [1, 2]}

    @genai_trace.trace
    def ask_with_previews(question: str) -> str:
        genai_trace.update_current_trace(request_preview=question, response_preview="chosen")
        return "chosen"

    with capture_traces() as traces:
        ask("What is OTLP?", 3)
        ask_with_previews("What is OTLP?")
    computed, explicit = traces
    request = '{"question":"What is OTLP?","top_k":3}'
    response = '{"answer":"OTLP is a protocol.","sources":[1,2]}'
    assert computed.info.request_preview == request  # readers still get both
    assert computed.info.response_preview == response
    root = default.span_attributes(computed)[computed.spans[0].span_id]
    assert root["input.value"] == request
    assert root["output.value"] == response
    assert "genai_trace.trace.request_preview" not in root
    assert "genai_trace.trace.response_preview" not in root
    # Set on purpose, a preview is sent even when it repeats the input's text.
    root = default.span_attributes(explicit)[explicit.spans[0].span_id]
    assert root["genai_trace.trace.request_preview"] == "What is OTLP?"
    assert root["genai_trace.trace.response_preview"] == "chosen"
    assert root["output.value"] == "chosen"
