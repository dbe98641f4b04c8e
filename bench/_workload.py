"""The traced functions: the same small shapes for every library, so only tracing differs.

A call takes three arguments and returns a small dict, like a thin wrapper around a model
call would; the "11" shape is a root calling ten children, the size of a short RAG trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

QUESTION = "What does OpenTelemetry's BatchSpanProcessor do with a full queue?"
CHILDREN = 10


def single(decorate: Decorator) -> Callable[[], object]:
    """One span per call."""

    @decorate
    def answer(question: str, top_k: int, temperature: float) -> dict[str, Any]:
        return {"answer": "It drops the span.", "sources": [1, 2, 3], "score": 0.92}

    return lambda: answer(QUESTION, 3, 0.2)


def tree(decorate: Decorator) -> Callable[[], object]:
    """Eleven spans per call: a root calling ten traced children."""

    @decorate
    def retrieve(question: str, index: int) -> dict[str, Any]:
        return {"doc": index, "score": 0.5}

    @decorate
    def pipeline(question: str, top_k: int, temperature: float) -> dict[str, Any]:
        docs = [retrieve(question, i) for i in range(CHILDREN)]
        return {"answer": "It drops the span.", "sources": len(docs)}

    return lambda: pipeline(QUESTION, 3, 0.2)


_CONTEXT = (
    "OpenTelemetry's BatchSpanProcessor queues each finished span and a background thread "
    "exports them in batches of up to 512; when the queue (2,048 spans by default) is full, "
    "a new span is dropped and counted (opentelemetry-sdk 1.45, "
    "opentelemetry/sdk/trace/export/__init__.py). The OTLP/HTTP exporter retries a 429 or "
    "503 with backoff for up to 64 s.\n"
)
PROMPT = [
    {
        "role": "system",
        "content": "You are a careful assistant for an observability team. Answer from the "
        'context only, cite what you use, and say "I don\'t know" when it does not say.',
    },
    {"role": "user", "content": f"Context:\n{_CONTEXT * 9}\nQuestion: {QUESTION}"},
]
ANSWER = {
    "role": "assistant",
    "content": "It drops the span. " + _CONTEXT.replace("\n", " ") * 2,
    "finish_reason": "stop",
}


def prompt(decorate: Decorator) -> Callable[[], object]:
    """One span per call with a chat's payloads: about 3.5 KB of JSON in, 0.8 KB out.

    The other shapes' payloads are a few dozen characters, where the cost that grows with
    the text (capture, redaction's look for secrets, previews, compression) does not show.
    """

    @decorate
    def chat(messages: list[dict[str, str]], model: str, temperature: float) -> dict[str, Any]:
        return ANSWER

    return lambda: chat(PROMPT, "gpt-4o", 0.2)


SHAPES: dict[str, tuple[Callable[[Decorator], Callable[[], object]], int]] = {
    "1": (single, 1),
    "11": (tree, 1 + CHILDREN),
    "prompt": (prompt, 1),
}
