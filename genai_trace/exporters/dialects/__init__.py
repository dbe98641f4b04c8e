"""Dialects: the attributes each span carries on the wire, per backend.

A dialect is a pure function from a whole :class:`~genai_trace.Trace` to the attributes of
each of its spans, by span id. ``default`` sends the open conventions (OpenInference and
OpenTelemetry GenAI) plus the trace-level facts on the root span; ``mlflow`` adds what the
MLflow tracking server renders natively; ``genai`` sends only OpenTelemetry GenAI keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.model import Trace
from genai_trace.exporters.dialects import default, genai, mlflow

SpanAttributes = dict[str, dict[str, Any]]
Dialect = Callable[[Trace], SpanAttributes]

DIALECTS: dict[str, Dialect] = dict(
    zip(
        sc.DIALECT_NAMES,
        (default.span_attributes, mlflow.span_attributes, genai.span_attributes),
        strict=True,
    )
)


def get_dialect(name_or_function: str | Dialect) -> Dialect:
    """The dialect called ``name``, or the function itself.

    Example:
        >>> get_dialect("mlflow")(trace)[trace.root.span_id]["mlflow.spanType"]
        '"CHAIN"'

    Raises:
        ValueError: an unknown dialect name.
    """
    if callable(name_or_function):
        return name_or_function
    try:
        return DIALECTS[name_or_function]
    except KeyError:
        raise ValueError(
            f"unknown dialect {name_or_function!r}; choose one of {', '.join(DIALECTS)}"
        ) from None
