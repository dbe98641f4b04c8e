"""Feedback and expectations on traces: ``log_feedback``, ``log_expectation``, ``get_feedback``.

A feedback may be logged at any moment of its trace's life, and lands once wherever the
trace goes:

- the trace is still open here: the ``gen_ai.evaluation.result`` event is added to the live
  span, so it leaves with the trace to every destination;
- it completed and waits in the export queues, or was exported already, or it lives in
  another process's store (or yesterday's): the feedback joins the same queues, behind the
  trace, and each destination that takes feedback (``export_feedback``) delivers it. The
  local store keeps one that arrives before its trace until the trace does (bounded), and
  counts one whose trace never comes as lost.

Nothing here raises into the app for an unknown trace: only wrong arguments raise.

Layer: ``_api``; imports ``_runtime``, ``_semantics`` and (when reading) ``store``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import format_span_id, format_trace_id

from genai_trace._api.reading import store_to_read
from genai_trace._errors import log_internal_error, warn_once
from genai_trace._runtime import state as _runtime
from genai_trace._runtime.live import live
from genai_trace._semantics.feedback import (
    EVALUATION_EVENT,
    EXPECTATION,
    FEEDBACK,
    FEEDBACK_ID,
    Feedback,
    FeedbackDelivery,
    Kind,
    Source,
    evaluation_event,
    is_trace_id,
    make_feedback,
)


def log_feedback(
    trace_id: str,
    name: str,
    value: bool | float | str | dict[str, Any],
    *,
    span_id: str | None = None,
    rationale: str | None = None,
    source: Source | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Feedback:
    """Record a judgement of a trace: a thumbs up, a label, a score, from a person or a judge.

    Works whatever the trace's state: still running, completed and waiting for export,
    exported, or written by another process long ago (see the module's docstring). It
    never raises for a trace that cannot be found: that is counted in
    ``genai_trace.stats()`` (the store's ``feedback_lost``) and logged.

    Args:
        trace_id: The trace's id (32 hex), or the ``client_request_id`` the app gave it.
        name: What is judged, e.g. ``"thumbs"``, ``"relevance"``.
        value: ``True``/``False``, a number, a string label, or a small dict.
        span_id: The judged span (16 hex); the whole trace when ``None``.
        rationale: Why; shown beside the value.
        source: Who judged: ``Source.human("ada")`` (the default, anonymous),
            ``Source.llm_judge("gpt-4o")`` or ``Source.code("my_scorer")``.
        metadata: A small dict of your own.

    Returns:
        The feedback as recorded (its ``feedback_id`` is unique), after redaction: the
        redactor in force for spans also runs on the value, rationale and metadata.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an empty name, a non-finite number, a value too large.

    Example:
        >>> genai_trace.log_feedback(trace_id, "thumbs", False, rationale="wrong city")
    """
    return _log(trace_id, name, value, FEEDBACK, span_id, rationale, source, metadata)


def log_expectation(
    trace_id: str,
    name: str,
    value: bool | float | str | dict[str, Any] | list[Any],
    *,
    span_id: str | None = None,
    rationale: str | None = None,
    source: Source | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Feedback:
    """Record what a trace should have produced (ground truth), e.g. the expected answer.

    Delivered like :func:`log_feedback`; its ``kind`` is ``"expectation"``, and a list is
    accepted as its value too.

    Example:
        >>> genai_trace.log_expectation(trace_id, "expected_answer", "Paris")
    """
    return _log(trace_id, name, value, EXPECTATION, span_id, rationale, source, metadata)


def get_feedback(trace_id: str) -> list[Feedback]:
    """The feedback and expectations stored for a trace, oldest first.

    ``trace_id`` may be the client request id. What this process logged is written to its
    store first (bounded), so a feedback just logged on a stored trace is found.

    Raises:
        TraceStoreError: the store cannot be read.
    """
    if not isinstance(trace_id, str):
        raise TypeError(f"get_feedback() takes a trace id string, got {trace_id!r}")
    store = store_to_read(None)
    return store.get_feedback(trace_id) if store.path.exists() else []


def _log(
    trace_id: object,
    name: object,
    value: object,
    kind: Kind,
    span_id: object,
    rationale: object,
    source: object,
    metadata: object,
) -> Feedback:
    feedback = make_feedback(
        trace_id,
        name,
        value,
        kind=kind,
        span_id=span_id,
        rationale=rationale,
        source=Source.human() if source is None else source,
        metadata=metadata,
    )
    try:
        feedback = _redacted(feedback)
        _deliver(feedback)
    except Exception:
        log_internal_error("log_feedback")
    return feedback


def _redacted(feedback: Feedback) -> Feedback:
    """The feedback as exporters may see it: the redactor in force applied, as to spans."""
    redactor = live.redactor
    if redactor is None:
        return feedback
    value = feedback.value
    if isinstance(value, str):
        value = redactor.text(value, feedback.name)
    elif isinstance(value, (dict, list)):
        value = redactor.structure(value)
    return dataclasses.replace(
        feedback,
        value=value,
        rationale=None if feedback.rationale is None else redactor.text(feedback.rationale),
        metadata=None if feedback.metadata is None else redactor.structure(feedback.metadata),
    )


def _deliver(feedback: Feedback) -> None:
    rt = _runtime.get()
    if rt is None:  # tracing is switched off: nowhere to send it
        warn_once(
            "feedback-disabled",
            "genai_trace: feedback not recorded: tracing is disabled (GENAI_TRACE_DISABLED)",
        )
        return
    delivery = _on_live_span(rt, feedback) or _known_trace(rt, feedback)
    if rt.pipeline.submit_feedback(delivery) == 0:
        warn_once(
            "feedback-nowhere",
            "genai_trace: feedback not recorded: no configured destination takes feedback "
            "(the local store and OTLP do)",
        )


def _on_live_span(rt: _runtime.Runtime, feedback: Feedback) -> FeedbackDelivery | None:
    """While the trace is open here, the event goes on the judged span, which is live."""
    wanted = None if feedback.span_id is None else int(feedback.span_id, 16)
    found = rt.assembler.live_span(feedback.trace_id, wanted)
    if found is None:
        return None
    trace_id, span = found
    judged = feedback.span_id
    on_span = False
    if span is not None:
        judged = format_span_id(span.get_span_context().span_id)
        span.add_event(EVALUATION_EVENT, evaluation_event(feedback))
        # The span may have ended since it was found (the SDK then refuses the event): the
        # feedback then goes as a span of its own.
        on_span = any(
            (event.attributes or {}).get(FEEDBACK_ID) == feedback.feedback_id
            for event in span.events
        )
    return FeedbackDelivery(
        feedback, format_trace_id(trace_id), judged, on_live_span=on_span, trace_open=True
    )


def _known_trace(rt: _runtime.Runtime, feedback: Feedback) -> FeedbackDelivery:
    """A trace completed here recently: its id and root are known; else the id as given."""
    recent = rt.pipeline.recent.get(feedback.trace_id)
    if recent is not None:
        built = recent.built()
        root = built.root
        judged = feedback.span_id or (root.span_id if root is not None else None)
        return FeedbackDelivery(feedback, built.info.trace_id, judged)
    trace_id = feedback.trace_id.lower() if is_trace_id(feedback.trace_id) else None
    return FeedbackDelivery(feedback, trace_id, feedback.span_id)
