"""Feedback on its way to an OTLP backend: a span of its own, and the backend's own API.

OTLP has no way to add an event to a span already sent, so a feedback whose trace went
out before it is sent as a small span of the same trace (:func:`feedback_span`): a child
of the judged span, linked to it, carrying the ``gen_ai.evaluation.result`` event. A
feedback logged while its trace was open needs none: its event left on the live span.

Backends that show judgements natively read them through their own API, not from OTLP:
Phoenix as span and trace annotations (``POST /v1/span_annotations``,
``/v1/trace_annotations``), MLflow as assessments (``POST
/api/3.0/mlflow/traces/{id}/assessments``). Those calls name the trace or span, which must
reach the backend first: :class:`HeldFeedback` keeps a feedback logged on an open trace
until this exporter has sent that trace.

Layer: ``exporters``; imports ``_semantics`` and ``_errors``.
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

from genai_trace._errors import ThrottledWarning, logger, warn_once
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.feedback import (
    EVALUATION_EVENT,
    EXPECTATION,
    FEEDBACK_ID,
    FEEDBACK_SPAN_NAME,
    FeedbackDelivery,
    evaluation_event,
    score,
)

_SCOPE = InstrumentationScope(sc.TRACER_NAME, sc.TRACER_VERSION)
PHOENIX_SPAN_ANNOTATIONS = "/v1/span_annotations"
PHOENIX_TRACE_ANNOTATIONS = "/v1/trace_annotations"
MLFLOW_ASSESSMENTS = "/api/3.0/mlflow/traces/{}/assessments"
_PHOENIX_KINDS = {"HUMAN": "HUMAN", "LLM_JUDGE": "LLM", "CODE": "CODE"}


def feedback_span(delivery: FeedbackDelivery, resource: Resource) -> ReadableSpan:
    """The small span that carries a feedback to a trace already sent.

    Same trace id; parent and link: the judged span (none when this process never knew the
    trace's spans: the span is then a root of its own in the same trace).
    """
    assert delivery.trace_id is not None
    feedback = delivery.feedback
    trace_id = int(delivery.trace_id, 16)
    context = SpanContext(trace_id, int.from_bytes(os.urandom(8), "big") or 1, False, TraceFlags(1))
    judged = None
    if delivery.span_id is not None:
        judged = SpanContext(trace_id, int(delivery.span_id, 16), True, TraceFlags(1))
    attributes = evaluation_event(feedback)
    return ReadableSpan(
        name=FEEDBACK_SPAN_NAME,
        context=context,
        parent=judged,
        resource=resource,
        attributes={sc.OPENINFERENCE_SPAN_KIND: "EVALUATOR", FEEDBACK_ID: feedback.feedback_id},
        events=[Event(EVALUATION_EVENT, attributes, timestamp=feedback.created_ns)],
        links=[Link(judged)] if judged is not None else [],
        kind=SpanKind.INTERNAL,
        start_time=feedback.created_ns,
        end_time=feedback.created_ns,
        instrumentation_scope=_SCOPE,
    )


class HeldFeedback:
    """Feedback logged on an open trace, held until this exporter has sent that trace.

    (Its OTLP event or span needs no wait: the backend joins the spans of a trace by id.)

    Bounded: past ``max_held`` the oldest is let go (its backend call is then made at once,
    and may find the trace missing). Guarded by a lock: ``export`` and ``export_feedback``
    run on one destination thread, ``shutdown`` may not.
    """

    def __init__(self, max_held: int = 10_000) -> None:
        self.max_held = max_held
        self._lock = threading.Lock()
        self._held: dict[str, list[FeedbackDelivery]] = {}
        self._count = 0

    @property
    def count(self) -> int:
        """Feedback held (read without the lock: a hint for the export path)."""
        return self._count

    def split(self, deliveries: Sequence[FeedbackDelivery]) -> list[FeedbackDelivery]:
        """Hold those whose trace is still to come; return those to send now."""
        now: list[FeedbackDelivery] = []
        with self._lock:
            for delivery in deliveries:
                if delivery.trace_open and delivery.trace_id is not None:
                    self._held.setdefault(delivery.trace_id, []).append(delivery)
                    self._count += 1
                else:
                    now.append(delivery)
            while self._count > self.max_held:
                oldest = next(iter(self._held))
                now.extend(self._held.pop(oldest))
                self._count = sum(len(v) for v in self._held.values())
        return now

    def release(self, trace_ids: Sequence[str]) -> list[FeedbackDelivery]:
        """The held feedback of traces just sent."""
        released: list[FeedbackDelivery] = []
        with self._lock:
            for trace_id in trace_ids:
                released.extend(self._held.pop(trace_id, ()))
            self._count -= len(released)
        return released

    def take_all(self) -> list[FeedbackDelivery]:
        """At shutdown: everything held (its trace never came through here)."""
        with self._lock:
            held = [d for items in self._held.values() for d in items]
            self._held.clear()
            self._count = 0
        return held


class _Rest:
    """One backend API that records feedback; ``post`` returns how many it refused."""

    def __init__(self, base: str, headers: Mapping[str, str], timeout_s: float) -> None:
        import requests  # a dependency of the OTLP/HTTP exporter

        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers.update(headers)
        self._failed = ThrottledWarning(
            "genai_trace: %s did not record feedback: %s (%d times since %s)"
        )

    def _post(self, path: str, body: Mapping[str, Any]) -> tuple[int, str]:
        try:
            response = self._session.post(self.base + path, json=body, timeout=self.timeout_s)
            with response:
                return response.status_code, response.text[:300]
        except Exception as exc:  # a network error must not leave the worker
            return 0, repr(exc)

    def close(self) -> None:
        self._session.close()


class PhoenixAnnotations(_Rest):
    """Span and trace annotations in Phoenix, keyed by the feedback id (sent twice: once).

    A server that answers 404 or 405 to the first call is not Phoenix: feedback then goes
    as OTLP only, said once.
    """

    off = False

    def post(self, deliveries: Sequence[FeedbackDelivery]) -> int:
        """Annotate each delivery's span (or trace); return how many were refused."""
        if self.off:
            return 0
        spans = [d for d in deliveries if d.feedback.span_id is not None]
        traces = [d for d in deliveries if d.feedback.span_id is None and d.trace_id]
        refused = 0
        for path, items, key in (
            (PHOENIX_SPAN_ANNOTATIONS, spans, "span_id"),
            (PHOENIX_TRACE_ANNOTATIONS, traces, "trace_id"),
        ):
            if not items or self.off:
                continue
            body = {"data": [_phoenix_annotation(d, key) for d in items]}
            status, detail = self._post(path, body)
            if status in (404, 405) and "not exist" not in detail:
                self.off = True
                logger.info(
                    "genai_trace: %s has no Phoenix annotation API (HTTP %d): feedback goes "
                    "as OTLP events only",
                    self.base,
                    status,
                )
                return 0
            if not 200 <= status < 300:
                refused += len(items)
                self._failed.record(len(items), self.base, f"HTTP {status}: {detail}")
        return refused


def _phoenix_annotation(delivery: FeedbackDelivery, key: str) -> dict[str, Any]:
    feedback = delivery.feedback
    value = feedback.value
    result: dict[str, Any] = {"score": score(value)}
    if isinstance(value, str):
        result["label"] = value
    elif isinstance(value, bool):
        result["label"] = "true" if value else "false"
    if feedback.rationale:
        result["explanation"] = feedback.rationale
    metadata = dict(feedback.metadata or {})
    metadata.update(source=feedback.source.id, kind=feedback.kind)
    if not isinstance(value, (bool, int, float, str)):
        metadata["value"] = value
    target = feedback.span_id if key == "span_id" else delivery.trace_id
    return {
        key: target,
        "name": feedback.name,
        "annotator_kind": _PHOENIX_KINDS[feedback.source.type],
        "result": result,
        "metadata": metadata,
        "identifier": feedback.feedback_id,
    }


class MlflowAssessments(_Rest):
    """Assessments in MLflow: feedback and expectations its UI shows natively."""

    def post(self, deliveries: Sequence[FeedbackDelivery]) -> int:
        """Create one assessment per delivery; return how many were refused."""
        refused = 0
        for delivery in deliveries:
            if delivery.trace_id is None:
                refused += 1
                continue
            mlflow_id = "tr-" + delivery.trace_id
            status, detail = self._post(
                MLFLOW_ASSESSMENTS.format(mlflow_id), {"assessment": _assessment(delivery)}
            )
            if not 200 <= status < 300:
                refused += 1
                self._failed.record(1, self.base, f"HTTP {status}: {detail}")
        return refused


def _assessment(delivery: FeedbackDelivery) -> dict[str, Any]:
    feedback = delivery.feedback
    when = (
        datetime.datetime.fromtimestamp(feedback.created_ns / 1e9, tz=datetime.timezone.utc)
        .isoformat()
        .replace("+00:00", "Z")
    )
    body: dict[str, Any] = {
        "assessment_name": feedback.name,
        "trace_id": "tr-" + (delivery.trace_id or ""),
        "source": {"source_type": feedback.source.type, "source_id": feedback.source.id},
        "create_time": when,
        "last_update_time": when,
        "metadata": {
            FEEDBACK_ID: feedback.feedback_id,
            **{k: str(v) for k, v in (feedback.metadata or {}).items()},
        },
    }
    key = "expectation" if feedback.kind == EXPECTATION else "feedback"
    body[key] = {"value": feedback.value}
    if feedback.span_id is not None:
        body["span_id"] = feedback.span_id
    if feedback.rationale:
        body["rationale"] = feedback.rationale
    return body


def warn_unknown_trace(where: str, delivery: FeedbackDelivery) -> None:
    """A feedback named by a client request id this process never saw cannot go over OTLP."""
    warn_once(
        f"otlp feedback unknown {where}",
        "genai_trace: %s cannot send feedback for %r: not a trace id, and no trace of this "
        "process has that client request id (counted in genai_trace.stats())",
        where,
        delivery.feedback.trace_id,
    )
