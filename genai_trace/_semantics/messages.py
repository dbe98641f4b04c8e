"""What spans from OpenTelemetry GenAI instrumentations mean: inputs, outputs, first token.

Pure functions over a span's attributes, used by the trace builder for any span that
carries the OpenTelemetry GenAI conventions (``gen_ai.*``), whichever library emitted it:
the official OpenAI, Anthropic and LangChain instrumentations, or any other; and the GenAI
message and preview heuristics (is this a GenAI span, where are the chat messages, what is
the request and response preview) shared by the builder and the dialects, decided here once.
Layer: ``_semantics`` (pure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import from_text, to_json, truncate_text
from genai_trace._semantics.semconv import (
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_RETRIEVAL_DOCUMENTS,
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    MIME_JSON,
)

_NOTHING = object()


def genai_inputs(attributes: Mapping[str, Any]) -> Any:
    """A GenAI span's inputs: its input messages, tool arguments or retrieval query.

    System instructions recorded apart from the messages (the Responses API's
    ``instructions``, Anthropic's ``system``) come first, as a ``system`` message, so the
    inputs show the whole prompt. ``None`` when the span recorded no content.

    Example:
        >>> genai_inputs({"gen_ai.input.messages": '[{"role": "user", "parts": []}]'})
        [{'role': 'user', 'parts': []}]
    """
    messages = _decode(attributes.get(GEN_AI_INPUT_MESSAGES, _NOTHING))
    system = _decode(attributes.get(GEN_AI_SYSTEM_INSTRUCTIONS, _NOTHING))
    if system is not _NOTHING:
        parts = system if isinstance(system, list) else [system]
        system_message = {"role": "system", "parts": parts}
        if isinstance(messages, list):
            return [system_message, *messages]
        if messages is _NOTHING:
            return [system_message]
    for value in (
        messages,
        _decode(attributes.get(GEN_AI_TOOL_CALL_ARGUMENTS, _NOTHING)),
        attributes.get(GEN_AI_RETRIEVAL_QUERY_TEXT, _NOTHING),
    ):
        if value is not _NOTHING:
            return value
    return None


def genai_outputs(attributes: Mapping[str, Any]) -> Any:
    """A GenAI span's outputs: its output messages, tool result or retrieved documents.

    Example:
        >>> genai_outputs({"gen_ai.tool.call.result": '{"temperature": 21}'})
        {'temperature': 21}
    """
    for key in (GEN_AI_OUTPUT_MESSAGES, GEN_AI_TOOL_CALL_RESULT, GEN_AI_RETRIEVAL_DOCUMENTS):
        value = _decode(attributes.get(key, _NOTHING))
        if value is not _NOTHING:
            return value
    return None


def time_to_first_chunk_ms(attributes: Mapping[str, Any]) -> float | None:
    """Milliseconds to a stream's first chunk, from ``gen_ai.response.time_to_first_chunk``.

    Example:
        >>> time_to_first_chunk_ms({"gen_ai.response.time_to_first_chunk": 0.25})
        250.0
    """
    seconds = attributes.get(GEN_AI_TIME_TO_FIRST_CHUNK)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    return float(seconds) * 1000.0


def _decode(raw: Any) -> Any:
    """JSON text to a value (text that is not JSON stays text); a sequence item by item."""
    if raw is _NOTHING:
        return raw
    if isinstance(raw, (list, tuple)):  # one JSON value per item
        return [from_text(item, MIME_JSON) if isinstance(item, str) else item for item in raw]
    if isinstance(raw, str):
        return from_text(raw, MIME_JSON)
    return raw


PREVIEW_MAX_CHARS = 1000
"""A trace's request and response previews are cut to this many characters."""


def is_genai_span(attributes: Mapping[str, Any] | None) -> bool:
    """Whether a span carries GenAI meaning: a span type, or any ``gen_ai.*`` attribute."""
    if not attributes:
        return False
    if sc.SPAN_TYPE in attributes or sc.OPENINFERENCE_SPAN_KIND in attributes:
        return True
    return any(key.startswith(sc.GEN_AI_PREFIX) for key in attributes)


def request_preview(inputs: Any) -> str | None:
    """Text for a trace's Request column.

    A chat's last user message, a lone string argument, or compact JSON.
    """
    if inputs is None:
        return None
    if isinstance(inputs, str):
        return truncate_text(inputs, PREVIEW_MAX_CHARS)
    messages = find_messages(inputs)
    if messages:
        for message in reversed(messages):
            if message.get("role") == "user":
                text = _content_text(message) or to_json(message, PREVIEW_MAX_CHARS)
                return truncate_text(text, PREVIEW_MAX_CHARS)
    return _plain_preview(inputs)


def response_preview(outputs: Any) -> str | None:
    """Text for a trace's Response column.

    The assistant's text where the output is chat-shaped, the string itself, or compact JSON.
    """
    if outputs is None:
        return None
    if isinstance(outputs, str):
        return truncate_text(outputs, PREVIEW_MAX_CHARS)
    text = _assistant_text(outputs)
    if text is not None:
        return truncate_text(text, PREVIEW_MAX_CHARS)
    return _plain_preview(outputs)


def request_preview_of_json(text: str) -> str | None:
    """:func:`request_preview` of the value whose compact JSON is ``text``, if that says.

    When the text alone tells, the preview is the text itself; ``None``: decode it and
    ask :func:`request_preview`. A chat needs a ``"role"`` key and a dict holding one
    string ends in ``"}``; any other object or array within the preview's length is its
    own compact JSON.
    """
    if _plain_json(text) and '"role"' not in text:
        return text
    return None


def response_preview_of_json(text: str) -> str | None:
    """:func:`response_preview` of the value whose compact JSON is ``text``, if that says.

    As :func:`request_preview_of_json`. A chat-shaped output needs a ``"choices"``,
    ``"output..."`` or ``"role"`` key.
    """
    if (
        _plain_json(text)
        and '"role"' not in text
        and '"choices"' not in text
        and '"output' not in text
    ):
        return text
    return None


def _plain_json(text: str) -> bool:
    return len(text) <= PREVIEW_MAX_CHARS and text[:1] in _CONTAINERS and not text.endswith('"}')


_CONTAINERS = ("{", "[")


def _plain_preview(value: Any) -> str:
    """A dict holding one string gives that string; anything else, compact JSON."""
    if isinstance(value, dict) and len(value) == 1:
        (only,) = value.values()
        if isinstance(only, str):
            return truncate_text(only, PREVIEW_MAX_CHARS)
    return to_json(value, PREVIEW_MAX_CHARS)


def _assistant_text(outputs: Any) -> str | None:
    """The assistant's text in a chat-shaped output, ``None`` when it is not chat-shaped."""
    message: Any = None
    if isinstance(outputs, dict):
        choices = outputs.get("choices")  # OpenAI chat completion
        output = outputs.get("output")  # OpenAI Responses API, as model_dump() gives it
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message")
        elif isinstance(outputs.get("output_text"), str):  # Responses API convenience
            return str(outputs["output_text"])
        elif outputs.get("role") == "assistant":  # Anthropic message, a bare message
            message = outputs
        elif isinstance(output, list):
            message = _last_assistant(output)
    elif isinstance(outputs, list):  # a message list (OTel GenAI output messages)
        message = _last_assistant(outputs)
    if not isinstance(message, dict):
        return None
    text = _content_text(message)
    return text if text else to_json(message, PREVIEW_MAX_CHARS)  # tool calls, no text


def _last_assistant(items: list[Any]) -> dict[str, Any] | None:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "assistant":
            return item
    return None


def find_messages(inputs: Any) -> list[dict[str, Any]] | None:
    """Chat messages among inputs: the inputs themselves, a ``messages`` key, or any value."""
    if is_messages(inputs):
        return list(inputs)
    if isinstance(inputs, dict):
        if is_messages(inputs.get("messages")):
            return list(inputs["messages"])
        for value in inputs.values():
            if is_messages(value):
                return list(value)
    return None


def is_messages(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of dicts with a ``role`` each."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "role" in m for m in value)
    )


def _content_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        joined = "\n".join(t for t in texts if isinstance(t, str))
        if joined:
            return joined
    parts = message.get("parts")  # OTel GenAI message shape
    if isinstance(parts, list):
        texts = [p.get("content") for p in parts if isinstance(p, dict)]
        return "\n".join(t for t in texts if isinstance(t, str))
    return "" if content is None else to_json(content, PREVIEW_MAX_CHARS)


# --- small helpers ---------------------------------------------------------------------
