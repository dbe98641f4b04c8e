"""Span types and every attribute key genai-trace reads or writes, in one place.

Live spans carry the open conventions that backends render natively: OpenInference
(``openinference.span.kind``, ``input.value`` ...) and the OpenTelemetry GenAI conventions
(``gen_ai.*``). Keys under ``genai_trace.`` hold what neither convention has a name for.
"""

from __future__ import annotations

import importlib.metadata
from enum import Enum

from opentelemetry.trace import StatusCode


class SpanType(str, Enum):
    """What a span does in a GenAI application.

    Any other string is accepted wherever a ``SpanType`` is, as a custom type.

    Example:
        >>> @genai_trace.trace(span_type=SpanType.RETRIEVER)
        ... def search(query: str) -> list[str]: ...
    """

    CHAIN = "CHAIN"
    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    TOOL = "TOOL"
    AGENT = "AGENT"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    PARSER = "PARSER"
    MEMORY = "MEMORY"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    WORKFLOW = "WORKFLOW"
    TASK = "TASK"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


# --- OpenInference ---------------------------------------------------------------------
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
INPUT_VALUE = "input.value"
INPUT_MIME_TYPE = "input.mime_type"
OUTPUT_VALUE = "output.value"
OUTPUT_MIME_TYPE = "output.mime_type"
SESSION_ID = "session.id"
USER_ID = "user.id"
METADATA = "metadata"
TAG_TAGS = "tag.tags"
LLM_MODEL_NAME = "llm.model_name"
LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
LLM_TOKEN_COUNT_TOTAL = "llm.token_count.total"
LLM_TOKEN_COUNT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
"""OpenInference's input tokens served from the prompt cache (Phoenix shows them)."""
LLM_TOKEN_COUNT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
"""OpenInference's input tokens written to the prompt cache."""
LLM_TOKEN_COUNT_REASONING = "llm.token_count.completion_details.reasoning"
"""OpenInference's output tokens spent reasoning."""

MIME_JSON = "application/json"
MIME_TEXT = "text/plain"

TRACER_NAME = "genai_trace"
PROJECT_NAME_ATTRIBUTE = "openinference.project.name"
"""The resource attribute Phoenix files traces under (its project)."""
"""The instrumentation scope (tracer name) of genai-trace's own spans."""

# --- OpenTelemetry GenAI ---------------------------------------------------------------
GEN_AI_PREFIX = "gen_ai."
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from the provider's prompt cache (part of the input tokens)."""
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
"""Input tokens written to the provider's prompt cache (part of the input tokens)."""
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
"""The same as ``cache_creation``, under the name opentelemetry-util-genai writes."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens the model spent reasoning (part of the output tokens)."""
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"
"""The provider under the conventions' older name (some instrumentations still write it)."""
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_RETRIEVAL_QUERY_TEXT = "gen_ai.retrieval.query.text"
GEN_AI_RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"
GEN_AI_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
"""Streams: seconds from the request to the first chunk (official instrumentations)."""

# --- genai-trace's own ----------------------------------------------------------------
SPAN_TYPE = "genai_trace.span.type"
"""The exact span type, kept where the OpenInference kind cannot say it (CHAT_MODEL, custom)."""
TIME_TO_FIRST_ITEM_MS = "genai_trace.time_to_first_item_ms"
"""Generators: milliseconds from the span's start to the first yielded item."""
TAG_PREFIX = "genai_trace.tag."
"""One attribute per tag, ``genai_trace.tag.<key> = <value>``, so tags round-trip exactly."""
TRACE_REQUEST_PREVIEW = "genai_trace.trace.request_preview"
TRACE_RESPONSE_PREVIEW = "genai_trace.trace.response_preview"
TRACE_CLIENT_REQUEST_ID = "genai_trace.trace.client_request_id"

COST_USD = "genai_trace.cost.usd"
"""A span's own cost in US dollars (``GenAISpan.set_cost``): a paid API, or an LLM call
priced by the caller. It wins over the cost computed from the price table."""

GENERATOR_CLOSED_EVENT = "genai_trace.generator_closed"
"""Event on a generator span whose consumer stopped before it was exhausted."""

# OpenInference has fewer kinds than we have types; the exact type also goes to SPAN_TYPE.
_OPENINFERENCE_KIND_OF: dict[str, str] = {
    "CHAIN": "CHAIN",
    "LLM": "LLM",
    "CHAT_MODEL": "LLM",
    "RETRIEVER": "RETRIEVER",
    "TOOL": "TOOL",
    "AGENT": "AGENT",
    "EMBEDDING": "EMBEDDING",
    "RERANKER": "RERANKER",
    "PARSER": "CHAIN",
    "MEMORY": "CHAIN",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
    "WORKFLOW": "CHAIN",
    "TASK": "CHAIN",
    "UNKNOWN": "UNKNOWN",
}

# What an OTel GenAI span's operation means as a span type.
SPAN_TYPE_OF_GEN_AI_OPERATION: dict[str, str] = {
    "chat": "CHAT_MODEL",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "retrieval": "RETRIEVER",
    "invoke_workflow": "WORKFLOW",
}

LLM_SPAN_TYPES = frozenset({"LLM", "CHAT_MODEL"})


def span_type_value(span_type: SpanType | str) -> str:
    """Return the string stored for a span type (the enum's value, or the custom string)."""
    if isinstance(span_type, SpanType):
        return span_type.value
    return str(span_type)


def span_type_attributes(span_type: SpanType | str) -> dict[str, str]:
    """Return the attributes that mark a span as being of ``span_type``.

    ``genai_trace.span.type`` is written only where the OpenInference kind cannot say the
    type (CHAT_MODEL, PARSER, custom types...): one attribute less on most spans.
    """
    value = span_type_value(span_type)
    kind = _OPENINFERENCE_KIND_OF.get(value, "UNKNOWN")
    if kind == value:
        return {OPENINFERENCE_SPAN_KIND: kind}
    return {OPENINFERENCE_SPAN_KIND: kind, SPAN_TYPE: value}


STATUS_CODES: dict[str, StatusCode] = {
    "OK": StatusCode.OK,
    "ERROR": StatusCode.ERROR,
    "UNSET": StatusCode.UNSET,
}
"""A span status as written in traces and accepted by the APIs (``"OK"``...), to its OTel code."""


def _installed_version() -> str:
    try:
        return importlib.metadata.version("genai-trace")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "0+unknown"


TRACER_VERSION = _installed_version()
"""genai-trace's version, from the installed metadata (pyproject's ``version`` is the one
source): the version of the tracer :data:`TRACER_NAME`, and ``genai_trace.__version__``."""


OTLP_PROTOCOLS = ("http/protobuf", "grpc")
"""The OTLP transports genai-trace speaks (``OTEL_EXPORTER_OTLP_PROTOCOL``'s values)."""
DIALECT_NAMES = ("default", "mlflow", "genai")
"""The wire dialects by name (``exporters.dialects``): which keys each backend reads."""
