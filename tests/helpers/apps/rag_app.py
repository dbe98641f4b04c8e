"""The sample RAG app the dialect and backend tests trace: CHAIN -> RETRIEVER + LLM.

``answer`` retrieves, completes, and sets every trace-level fact (tags, metadata, a
response preview, a client request id), so one trace exercises each key a dialect maps.
"""

from __future__ import annotations

import genai_trace
from genai_trace import SpanType

QUESTION = "What is OTLP?"
DOCS = [{"id": "doc-1", "text": "OTLP is OpenTelemetry's protocol."}]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
REPLY = {"role": "assistant", "content": "OTLP is OpenTelemetry's wire protocol."}
TAGS = {"env": "test", "team": "rag"}
METADATA = {"release": "1.2", "n": 3}
RESPONSE_PREVIEW = "OTLP, in short"
CLIENT_REQUEST_ID = "req-1"


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def retrieve(query: str) -> list[dict[str, str]]:
    return DOCS


@genai_trace.trace(span_type=SpanType.LLM)
def complete(messages: list[dict[str, str]]) -> dict[str, str]:
    span = genai_trace.get_current_span()
    span.set_attribute("llm.model_name", "fake-model")
    span.set_token_usage(input_tokens=12, output_tokens=7)
    return REPLY


@genai_trace.trace
def answer(question: str) -> str:
    retrieve(question)
    reply = complete(MESSAGES)
    genai_trace.update_current_trace(
        tags=TAGS,
        metadata=METADATA,
        response_preview=RESPONSE_PREVIEW,
        client_request_id=CLIENT_REQUEST_ID,
    )
    return reply["content"]
