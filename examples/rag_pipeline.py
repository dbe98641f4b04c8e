"""RAG pipeline: an embedding, a retriever and an LLM call under one CHAIN span.

Run: python examples/rag_pipeline.py

genai_trace.autolog() traces the OpenAI calls (the embedding and the chat completion) as
children of the manual spans, with model, messages and token usage; the retriever is a
manual RETRIEVER span. The trace's Request column gets a custom preview.
Offline by default (a local OpenAI-compatible server); set OPENAI_BASE_URL and
OPENAI_API_KEY to use a real endpoint.
"""

from __future__ import annotations

from _offline import EMBEDDING_MODEL, MODEL, client, last_trace, local_llm, print_trace

import genai_trace
from genai_trace import SpanType

DOCUMENTS = [
    "OTLP is the OpenTelemetry protocol for sending traces, metrics and logs.",
    "A span is one timed step of a trace, with a parent, attributes and events.",
    "Phoenix and MLflow both accept traces over OTLP.",
]


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def retrieve(question: str, top_k: int = 2) -> list[str]:
    words = {w.strip("?.,").lower() for w in question.split()}
    ranked = sorted(DOCUMENTS, key=lambda d: -len(words & set(d.lower().split())))
    return ranked[:top_k]


@genai_trace.trace
def answer(question: str) -> str:
    genai_trace.update_current_trace(request_preview=f"[rag] {question}", tags={"app": "rag"})
    client().embeddings.create(model=EMBEDDING_MODEL, input=question)  # e.g. for a vector index
    documents = retrieve(question)
    reply = client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Answer from these notes: " + " ".join(documents)},
            {"role": "user", "content": question},
        ],
    )
    return reply.choices[0].message.content or ""


def main() -> None:
    genai_trace.autolog("openai")
    with local_llm():
        print(answer("What is OTLP?"))
    print_trace(last_trace())


if __name__ == "__main__":
    main()
