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


SHAPES: dict[str, tuple[Callable[[Decorator], Callable[[], object]], int]] = {
    "1": (single, 1),
    "11": (tree, 1 + CHILDREN),
}
