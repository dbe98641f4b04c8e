"""OpenTelemetry GenAI conventions only: for backends that read ``gen_ai.*`` and nothing else.

OpenInference keys are dropped; attributes of other instrumentations (``http.*``, ``db.*``),
the general ``session.id``/``user.id`` and genai-trace's own keys stay. What the span types,
inputs and outputs meant is said the GenAI way:

- the span type becomes ``gen_ai.operation.name`` where the conventions have an operation
  for it (an LLM span whose input is a chat becomes ``chat``);
- LLM inputs and outputs become ``gen_ai.input.messages``/``gen_ai.output.messages`` (JSON
  text, role plus parts) when they are chat-shaped;
- tools carry ``gen_ai.tool.name`` and ``gen_ai.tool.call.arguments``/``.result``, agents
  ``gen_ai.agent.name``, workflows ``gen_ai.workflow.name``, retrievers
  ``gen_ai.retrieval.query.text`` and ``gen_ai.retrieval.documents``;
- the session is also ``gen_ai.conversation.id``; the root span carries the trace-level
  facts under ``genai_trace.trace.*`` and ``genai_trace.tag.*``.

What an instrumentation already wrote in ``gen_ai.*`` is kept as it is.
"""

from __future__ import annotations

from typing import Any

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import to_json
from genai_trace._semantics.messages import find_messages, is_messages
from genai_trace._semantics.model import SpanRecord, Trace, usage_details
from genai_trace.exporters.dialects import default

CONVERSATION_ID = sc.GEN_AI_CONVERSATION_ID
INPUT_MESSAGES = sc.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = sc.GEN_AI_OUTPUT_MESSAGES
TOOL_NAME = sc.GEN_AI_TOOL_NAME
TOOL_CALL_ARGUMENTS = sc.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_CALL_RESULT = sc.GEN_AI_TOOL_CALL_RESULT
AGENT_NAME = sc.GEN_AI_AGENT_NAME
WORKFLOW_NAME = sc.GEN_AI_WORKFLOW_NAME
RETRIEVAL_QUERY_TEXT = sc.GEN_AI_RETRIEVAL_QUERY_TEXT
RETRIEVAL_DOCUMENTS = sc.GEN_AI_RETRIEVAL_DOCUMENTS
TRACE_METADATA = "genai_trace.trace.metadata"
"""The trace's metadata as JSON text (OpenInference's ``metadata`` key is not sent)."""

_MAX_CHARS = 100_000
_OPERATION_OF_TYPE = {
    "LLM": "text_completion",
    "CHAT_MODEL": "chat",
    "EMBEDDING": "embeddings",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "RETRIEVER": "retrieval",
    "WORKFLOW": "invoke_workflow",
}
_NAME_KEY_OF_TYPE = {"TOOL": TOOL_NAME, "AGENT": AGENT_NAME, "WORKFLOW": WORKFLOW_NAME}
_OPENINFERENCE_PREFIXES = (
    "openinference.",
    "input.",
    "output.",
    "llm.",
    "embedding.",
    "retrieval.",
    "reranker.",
    "tool.",
    "tool_call.",
    "message.",
    "document.",
    "tag.",
)
_OPENINFERENCE_KEYS = frozenset({sc.METADATA, "agent.name"})


def span_attributes(trace: Trace) -> dict[str, dict[str, Any]]:
    """Only GenAI-convention keys (and others' and genai-trace's own) on every span.

    Example:
        >>> attributes = span_attributes(trace)[llm_span.span_id]
        >>> attributes["gen_ai.operation.name"], attributes["gen_ai.usage.input_tokens"]
        ('chat', 12)
    """
    out = {span.span_id: _span(span) for span in trace.spans}
    root = trace.root
    if root is not None:
        facts = default.trace_level_attributes(trace.info)
        metadata = facts.pop(sc.METADATA, None)
        facts.pop(sc.TAG_TAGS, None)
        if metadata is not None:
            facts[TRACE_METADATA] = metadata
        if trace.info.session_id is not None:
            facts[CONVERSATION_ID] = trace.info.session_id
        out[root.span_id].update(facts)
    return out


def _span(span: SpanRecord) -> dict[str, Any]:
    attributes = {
        key: value
        for key, value in span.attributes.items()
        if not key.startswith(_OPENINFERENCE_PREFIXES) and key not in _OPENINFERENCE_KEYS
    }
    extra: dict[str, Any] = {}
    span_type = span.span_type
    operation = _OPERATION_OF_TYPE.get(span_type)
    if span_type in sc.LLM_SPAN_TYPES:
        extra.update(_llm(span))
        if INPUT_MESSAGES in extra:
            operation = "chat"
    elif span_type == "TOOL":
        extra.update(_payloads(span, TOOL_CALL_ARGUMENTS, TOOL_CALL_RESULT))
    elif span_type == "RETRIEVER":
        extra.update(_retrieval(span))
    if operation is not None:
        extra[sc.GEN_AI_OPERATION_NAME] = operation
    name_key = _NAME_KEY_OF_TYPE.get(span_type)
    if name_key is not None:
        extra[name_key] = span.name
    usage = span.token_usage
    if usage is not None:
        extra[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        extra[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        extra.update(usage_details(usage, _GENAI_DETAILS))
    if span.model is not None:
        extra[sc.GEN_AI_REQUEST_MODEL] = span.model
    session = span.attributes.get(sc.SESSION_ID)
    if isinstance(session, str):
        extra[CONVERSATION_ID] = session
    for key, value in extra.items():
        attributes.setdefault(key, value)  # an instrumentation's own gen_ai.* value wins
    return attributes


def _llm(span: SpanRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    messages = find_messages(span.inputs)
    if messages is not None:
        out[INPUT_MESSAGES] = to_json([_message(m) for m in messages], _MAX_CHARS)
    outputs = _output_messages(span.outputs)
    if outputs is not None:
        out[OUTPUT_MESSAGES] = to_json(outputs, _MAX_CHARS)
    return out


def _payloads(span: SpanRecord, input_key: str, output_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if span.inputs is not None:
        out[input_key] = to_json(span.inputs, _MAX_CHARS)
    if span.outputs is not None:
        out[output_key] = to_json(span.outputs, _MAX_CHARS)
    return out


def _retrieval(span: SpanRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    query = span.inputs
    if isinstance(query, dict):
        texts = [v for v in query.values() if isinstance(v, str)]
        query = texts[0] if len(texts) == 1 else None
    if isinstance(query, str):
        out[RETRIEVAL_QUERY_TEXT] = query
    if isinstance(span.outputs, list):
        out[RETRIEVAL_DOCUMENTS] = to_json(span.outputs, _MAX_CHARS)
    return out


def _output_messages(outputs: Any) -> list[dict[str, Any]] | None:
    """Chat-shaped outputs as GenAI output messages; ``None`` when not chat-shaped."""
    if isinstance(outputs, dict):
        choices = outputs.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            found = []
            for choice in choices:
                message = choice.get("message") if isinstance(choice, dict) else None
                if isinstance(message, dict):
                    found.append(_message(message, choice.get("finish_reason")))
            return found or None
        if outputs.get("role") == "assistant":
            return [_message(outputs)]
        return None
    if is_messages(outputs):
        return [_message(m) for m in outputs]
    if isinstance(outputs, str):
        return [{"role": "assistant", "parts": [{"type": "text", "content": outputs}]}]
    return None


def _message(message: dict[str, Any], finish_reason: Any = None) -> dict[str, Any]:
    """One chat message (OpenAI shape, or already GenAI-shaped) as role plus parts."""
    if isinstance(message.get("parts"), list):
        return message
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append({"type": "text", "content": part["text"]})
            elif part is not None:
                parts.append({"type": "text", "content": to_json(part, _MAX_CHARS)})
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            function = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
    if message.get("role") == "tool":
        parts = [
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
        ]
    out: dict[str, Any] = {"role": message.get("role"), "parts": parts}
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return out


_GENAI_DETAILS = (
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
