"""What spans from OpenTelemetry GenAI instrumentations mean: inputs, outputs, first token.

Pure functions over a span's attributes, used by the trace builder for any span that
carries the OpenTelemetry GenAI conventions (``gen_ai.*``), whichever library emitted it:
the official OpenAI, Anthropic and LangChain instrumentations, or any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genai_trace._semantics.capture import from_text
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
