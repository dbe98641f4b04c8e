"""Feedback and expectations on traces, as plain values: who judged, what, and how it is sent.

A :class:`Feedback` is one judgement of a trace or of one of its spans (a user's thumbs
up, a reviewer's label, an LLM judge's score) or, with ``kind="expectation"``, the ground
truth the trace should have produced. Its value is checked here once, so every destination
(the store, OTLP, MLflow, Phoenix) receives the same small, JSON-ready value.

On the wire it is the OpenTelemetry GenAI ``gen_ai.evaluation.result`` event
(:func:`evaluation_event`), attached to the span it judges.

Layer: ``_semantics`` (pure: no SDK state, no I/O).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from genai_trace._semantics.codec import dumps, loads

FeedbackValue = bool | int | float | str | dict[str, Any] | list[Any]
"""What a feedback holds: bool, number, a string label, or a small dict (a list too, for an
expectation)."""

FEEDBACK: Final = "feedback"
EXPECTATION: Final = "expectation"
Kind = Literal["feedback", "expectation"]

EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
# What the GenAI event has no name for, under our own prefix.
FEEDBACK_ID = "genai_trace.feedback.id"
FEEDBACK_KIND = "genai_trace.feedback.kind"
FEEDBACK_VALUE = "genai_trace.feedback.value"
FEEDBACK_SOURCE_TYPE = "genai_trace.feedback.source.type"
FEEDBACK_SOURCE_ID = "genai_trace.feedback.source.id"
FEEDBACK_SPAN_NAME = "genai_trace.feedback"
"""The name of the small span that carries feedback on a trace already exported."""

MAX_NAME_CHARS = 200
MAX_LABEL_CHARS = 1_000
MAX_RATIONALE_CHARS = 10_000
MAX_VALUE_JSON_CHARS = 10_000
"""A dict (or an expectation's list) may take this much JSON; feedback is small."""

HUMAN = "HUMAN"
LLM_JUDGE = "LLM_JUDGE"
CODE = "CODE"
_SOURCE_TYPES = (HUMAN, LLM_JUDGE, CODE)


@dataclass(frozen=True)
class Source:
    """Who gave a feedback: a person, an LLM judge, or code.

    Example:
        >>> Source.human("ada")
        Source(type='HUMAN', id='ada')
        >>> Source.llm_judge("gpt-4o").type
        'LLM_JUDGE'
    """

    type: str
    """``HUMAN``, ``LLM_JUDGE`` or ``CODE``."""
    id: str
    """The person, the judge's model, or the scorer (``"default"`` when not said)."""

    def __post_init__(self) -> None:
        if self.type not in _SOURCE_TYPES:
            raise ValueError(
                f"Source.type must be one of {', '.join(_SOURCE_TYPES)}, got {self.type!r}"
            )
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"Source.id must be a non-empty string, got {self.id!r}")

    @classmethod
    def human(cls, who: str = "default") -> Source:
        """A person (a user's thumbs, a reviewer's label)."""
        return cls(HUMAN, who)

    @classmethod
    def llm_judge(cls, model: str = "default") -> Source:
        """An LLM that judged the trace; name its model."""
        return cls(LLM_JUDGE, model)

    @classmethod
    def code(cls, name: str = "default") -> Source:
        """A scorer in code (a heuristic, a test, :func:`genai_trace.evaluate`)."""
        return cls(CODE, name)

    @classmethod
    def parse(cls, text: str) -> Source:
        """``human:ada``, ``llm_judge:gpt-4o``, ``code`` (the CLI's ``--source``)."""
        kind, _, who = text.partition(":")
        return cls(kind.strip().upper(), who.strip() or "default")


@dataclass(frozen=True)
class Feedback:
    """One judgement of a trace (or one of its spans), or its expected outcome.

    Example:
        >>> for fb in genai_trace.get_feedback(trace_id):
        ...     print(fb.name, fb.value, fb.source.type)
    """

    trace_id: str
    """The judged trace: its id, or the ``client_request_id`` it was logged with until the
    store finds the trace."""
    name: str
    value: FeedbackValue
    kind: Kind = FEEDBACK
    span_id: str | None = None
    """The judged span; ``None`` for the whole trace (its root)."""
    rationale: str | None = None
    source: Source = field(default_factory=Source.human)
    metadata: Mapping[str, Any] | None = None
    feedback_id: str = field(default_factory=lambda: os.urandom(16).hex())
    """Unique: a feedback delivered twice (a retry) is stored once."""
    created_ns: int = field(default_factory=time.time_ns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data (the viewer's API, ``show --json``)."""
        return {
            "feedback_id": self.feedback_id,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "kind": self.kind,
            "name": self.name,
            "value": self.value,
            "rationale": self.rationale,
            "source": {"type": self.source.type, "id": self.source.id},
            "metadata": dict(self.metadata) if self.metadata is not None else None,
            "created_ns": self.created_ns,
        }


def feedback_from_dict(data: Mapping[str, Any]) -> Feedback:
    """The inverse of :meth:`Feedback.to_dict`."""
    source = data.get("source") or {}
    return Feedback(
        trace_id=data["trace_id"],
        name=data["name"],
        value=data["value"],
        kind=data.get("kind", FEEDBACK),
        span_id=data.get("span_id"),
        rationale=data.get("rationale"),
        source=Source(source.get("type", HUMAN), source.get("id", "default")),
        metadata=data.get("metadata"),
        feedback_id=data["feedback_id"],
        created_ns=int(data["created_ns"]),
    )


def make_feedback(
    trace_id: object,
    name: object,
    value: object,
    *,
    kind: Kind,
    span_id: object,
    rationale: object,
    source: object,
    metadata: object,
) -> Feedback:
    """A checked :class:`Feedback`; wrong arguments raise with what to pass instead.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an empty or too large value, a non-finite number.
    """
    if not isinstance(trace_id, str) or not trace_id.strip():
        raise TypeError(
            f"trace_id must be a trace id or the client_request_id of a trace, got {trace_id!r}"
        )
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise ValueError(
            f"name must be a non-empty string of at most {MAX_NAME_CHARS} characters, got {name!r}"
        )
    if span_id is not None and not _is_hex(span_id, 16):
        raise ValueError(f"span_id must be 16 hex digits, got {span_id!r}")
    if rationale is not None and (
        not isinstance(rationale, str) or len(rationale) > MAX_RATIONALE_CHARS
    ):
        raise TypeError(
            f"rationale must be a string of at most {MAX_RATIONALE_CHARS} characters, "
            f"got {type(rationale).__name__}"
        )
    if not isinstance(source, Source):
        raise TypeError(
            "source must be Source.human(...), Source.llm_judge(...) or Source.code(...), "
            f"got {source!r}"
        )
    return Feedback(
        trace_id=trace_id.strip(),
        name=name,
        value=check_value(value, allow_list=kind == EXPECTATION),
        kind=kind,
        span_id=None if span_id is None else str(span_id).lower(),
        rationale=rationale,
        source=source,
        metadata=_check_metadata(metadata),
    )


def check_value(value: object, *, allow_list: bool = False) -> FeedbackValue:
    """``value`` if a feedback may hold it: bool, finite number, label, small dict."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"a feedback value must be a finite number, got {value!r}")
        return value
    if isinstance(value, str):
        if not value or len(value) > MAX_LABEL_CHARS:
            raise ValueError(
                f"a feedback label must be 1 to {MAX_LABEL_CHARS} characters, got {value!r:.60}"
            )
        return value
    if isinstance(value, dict) or (allow_list and isinstance(value, list)):
        try:
            text = dumps(value, default=_refuse)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"a feedback value must be JSON data: {exc}") from None
        if len(text) > MAX_VALUE_JSON_CHARS:
            raise ValueError(
                f"a feedback value holds {len(text)} characters of JSON; at most "
                f"{MAX_VALUE_JSON_CHARS} (feedback is small: put data in the trace)"
            )
        decoded: dict[str, Any] | list[Any] = loads(text)  # plain data, not the caller's
        return decoded
    what = (
        "bool, number, string label, dict or list"
        if allow_list
        else ("bool, number, string label or small dict")
    )
    raise TypeError(f"a feedback value must be a {what}, got {type(value).__name__}")


def _check_metadata(metadata: object) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    checked = check_value(dict(metadata))
    assert isinstance(checked, dict)
    return checked


def _is_hex(text: object, digits: int) -> bool:
    if not isinstance(text, str) or len(text) != digits:
        return False
    try:
        return int(text, 16) != 0
    except ValueError:
        return False


def is_trace_id(text: str) -> bool:
    """Whether ``text`` is shaped like a trace id (32 hex digits, not all zeros)."""
    return _is_hex(text, 32)


def value_json(value: FeedbackValue) -> str:
    """The one JSON text of a value: what the store keeps and a search compares."""
    return dumps(value, default=_refuse)


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON data")


def evaluation_event(feedback: Feedback) -> dict[str, str | float | bool]:
    """The attributes of the ``gen_ai.evaluation.result`` event for ``feedback``.

    A number (a bool as 1.0 or 0.0) is the score's value, a string its label, and a bool
    also the label ``"true"``/``"false"``; the value itself, as JSON, under our own key.
    """
    attributes: dict[str, str | float | bool] = {
        EVALUATION_NAME: feedback.name,
        FEEDBACK_ID: feedback.feedback_id,
        FEEDBACK_KIND: feedback.kind,
        FEEDBACK_VALUE: value_json(feedback.value),
        FEEDBACK_SOURCE_TYPE: feedback.source.type,
        FEEDBACK_SOURCE_ID: feedback.source.id,
    }
    value = feedback.value
    if isinstance(value, bool):
        attributes[EVALUATION_SCORE_VALUE] = 1.0 if value else 0.0
        attributes[EVALUATION_SCORE_LABEL] = "true" if value else "false"
    elif isinstance(value, (int, float)):
        attributes[EVALUATION_SCORE_VALUE] = float(value)
    elif isinstance(value, str):
        attributes[EVALUATION_SCORE_LABEL] = value
    if feedback.rationale:
        attributes[EVALUATION_EXPLANATION] = feedback.rationale
    return attributes


def score(value: FeedbackValue) -> float | None:
    """A value as a number where it is one (a bool as 1.0 or 0.0), for averages and badges."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None


def render_feedback(items: tuple[Feedback, ...] | list[Feedback]) -> list[str]:
    """Feedback as lines of text under a trace's tree (``genai-trace show``)."""
    if not items:
        return []
    lines = ["feedback:"]
    for fb in items:
        where = f" on span {fb.span_id}" if fb.span_id else ""
        label = "expected " if fb.kind == EXPECTATION else ""
        who = f"{fb.source.type.lower()} {fb.source.id}"
        line = f"  {label}{fb.name} = {value_json(fb.value)}  ({who}){where}"
        if fb.rationale:
            line += f": {fb.rationale}"
        lines.append(line)
    return lines


def parse_value(text: str) -> FeedbackValue:
    """A value typed on a command line: JSON (``true``, ``0.8``, ``{...}``), else a label."""
    try:
        value = loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (bool, int, float, dict, list)) else text


@dataclass(frozen=True)
class FeedbackDelivery:
    """A feedback on its way to the exporters, with what this process knew of its trace.

    Exporters that take feedback (``export_feedback``) receive these, in the same queue as
    the traces, so a feedback logged after its trace completed reaches each exporter after it.
    """

    feedback: Feedback
    trace_id: str | None
    """The trace's id (32 hex) when known here; ``None`` for a client request id this
    process has not seen (the store looks it up)."""
    span_id: str | None
    """The judged span: the feedback's span, else the trace's root where known."""
    on_live_span: bool = False
    """The event was added to the live span: it leaves with the trace itself."""
    trace_open: bool = False
    """The trace had not completed when the feedback was logged: it reaches each exporter
    after the feedback (a backend's API must wait for it)."""
