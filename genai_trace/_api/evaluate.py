"""Evaluations in code: plain Python scorers run over stored traces, results logged as feedback.

``evaluate(traces, scorers=[...])`` reads each trace whole, calls each scorer with it on a
few threads, and logs what each returns through :func:`~genai_trace.log_feedback`, so the
results land where any feedback does (the store, OTLP backends, Phoenix, MLflow). No
server is needed: it works on the local store alone.

Layer: ``_api``; imports ``_api.feedback``, ``_api.reading`` and ``_semantics``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from genai_trace._api.feedback import log_feedback
from genai_trace._api.reading import get_trace, search_traces
from genai_trace._semantics.feedback import Feedback, Source, score
from genai_trace._semantics.model import Trace, TraceInfo

_F = TypeVar("_F", bound=Callable[..., Any])


def scorer(name: str | None = None, *, source: Source | None = None) -> Callable[[_F], _F]:
    """Name a scorer and say who it is: ``@scorer(source=Source.llm_judge("gpt-4o"))``.

    Without it a scorer's name is its function's name and its source ``Source.code(name)``.

    Example:
        >>> @genai_trace.scorer("relevance", source=Source.llm_judge("gpt-4o"))
        ... def relevance(trace): return ask_judge(trace.info.request_preview)
    """

    def mark(function: _F) -> _F:
        function.genai_trace_scorer = (name, source)  # type: ignore[attr-defined]
        return function

    return mark


@dataclass
class EvaluationResult:
    """What :func:`evaluate` logged, and what failed.

    Example:
        >>> result = genai_trace.evaluate(genai_trace.search_traces(limit=50), [is_short])
        >>> result.means()
        {'is_short': 0.8}
    """

    feedback: list[Feedback] = field(default_factory=list)
    """Every result logged, in no particular order."""
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    """``(trace_id, scorer name, error)`` for each scorer that raised, or trace not found."""

    def means(self) -> dict[str, float]:
        """The mean of each scorer's numeric results (``True`` counts 1, ``False`` 0)."""
        sums: dict[str, list[float]] = {}
        for fb in self.feedback:
            value = score(fb.value)
            if value is not None:
                sums.setdefault(fb.name, []).append(value)
        return {name: sum(values) / len(values) for name, values in sums.items()}


def evaluate(
    traces: Iterable[Trace | TraceInfo | str] | Mapping[str, Any],
    scorers: Iterable[Callable[[Trace], Any]],
    *,
    max_workers: int = 4,
    progress: TextIO | None = None,
) -> EvaluationResult:
    """Run each scorer over each trace and log each result as feedback on that trace.

    A scorer takes a :class:`~genai_trace.Trace` and returns a feedback value (bool,
    number, label, small dict), a ``(value, rationale)`` pair, or ``None`` for no result.
    A scorer that raises is recorded in the result's ``errors``; the others go on.

    Args:
        traces: Traces, their facts (what :func:`search_traces` returns) or ids; or a dict
            of :func:`search_traces` filters, e.g. ``{"name": "answer", "limit": 200}``.
        scorers: Plain functions (see :func:`scorer` to name one or make it a judge).
        max_workers: Threads calling the scorers (an LLM judge waits on the network).
        progress: Where a progress line goes; by default stderr when it is a terminal.

    Returns:
        The feedback logged and the errors met.

    Example:
        >>> def is_short(trace):
        ...     return len(trace.info.response_preview or "") < 200
        >>> genai_trace.evaluate({"limit": 100}, [is_short]).means()
    """
    if isinstance(traces, Mapping):
        traces = search_traces(**dict(traces))
    chosen = list(scorers)
    for candidate in chosen:
        if not callable(candidate):
            raise TypeError(f"a scorer must be a function of a trace, got {candidate!r}")
    if not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be a positive int, got {max_workers!r}")
    items = list(traces)
    result = EvaluationResult()
    lock = threading.Lock()  # guards result and the progress count
    done = [0]
    out = progress if progress is not None else (sys.stderr if sys.stderr.isatty() else None)

    def run(item: Trace | TraceInfo | str) -> None:
        logged, errors = _score_one(item, chosen)
        with lock:
            result.feedback.extend(logged)
            result.errors.extend(errors)
            done[0] += 1
            if out is not None:
                out.write(f"\revaluate: {done[0]}/{len(items)} traces")
                out.flush()

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="genai_trace eval") as pool:
        list(pool.map(run, items))
    if out is not None and items:
        out.write("\n")
    return result


def _score_one(
    item: Trace | TraceInfo | str, scorers: list[Callable[[Trace], Any]]
) -> tuple[list[Feedback], list[tuple[str, str, str]]]:
    trace_id = (
        item if isinstance(item, str) else item.trace_id if isinstance(item, TraceInfo) else None
    )
    trace = get_trace(trace_id) if trace_id is not None else item
    if not isinstance(trace, Trace):
        return [], [(str(trace_id), "*", "no such trace")]
    logged: list[Feedback] = []
    errors: list[tuple[str, str, str]] = []
    for function in scorers:
        name, source = _identity(function)
        try:
            outcome = function(trace)
            if outcome is None:
                continue
            value, rationale = outcome if isinstance(outcome, tuple) else (outcome, None)
            logged.append(
                log_feedback(trace.info.trace_id, name, value, rationale=rationale, source=source)
            )
        except Exception as exc:  # the user's scorer: recorded, the others go on
            errors.append((trace.info.trace_id, name, f"{type(exc).__name__}: {exc}"))
    return logged, errors


def _identity(function: Callable[..., Any]) -> tuple[str, Source]:
    name, source = getattr(function, "genai_trace_scorer", (None, None))
    name = name or getattr(function, "__name__", None) or type(function).__name__
    return name, source or Source.code(name)
