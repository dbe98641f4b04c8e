"""A small traced RAG app that fills a store with four known traces, for the store's readers."""

from __future__ import annotations

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace.store import SQLiteTraceStore


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def retrieve(q: str) -> list[str]:
    return [f"doc:{q}"]


@genai_trace.trace(span_type=SpanType.LLM)
def generate(q: str, docs: list[str]) -> dict[str, object]:
    if q == "fail":
        raise RuntimeError("model overloaded")
    return {
        "choices": [{"message": {"role": "assistant", "content": f"answer:{q}"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(q)},
    }


@genai_trace.trace
def rag(q: str) -> object:
    genai_trace.update_current_trace(tags={"q": q})
    return generate(q, retrieve(q))


def fill(store: SQLiteTraceStore) -> None:
    genai_trace.configure(exporters=[store])
    with genai_trace.context(session_id="s-1", user_id="ada"):
        rag("alpha")
        rag("beta")
    with genai_trace.context(session_id="s-2", user_id="bob", tags={"env": "prod"}):
        with pytest.raises(RuntimeError):
            rag("fail")
    with genai_trace.start_span("plain", span_type=SpanType.TOOL, inputs="hello 100%_done"):
        pass
    assert genai_trace.flush(10)
