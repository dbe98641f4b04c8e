"""Feedback at each moment of a trace's life lands once in a real Phoenix and a real MLflow.

Read back through their own APIs: Phoenix's span and trace annotations, MLflow's
assessments on the trace info, and the ``gen_ai.evaluation.result`` events on the spans.
The four moments: the trace still open, completed but not yet sent, sent, and known to the
logging process only by its id (another process, or a day later).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import genai_trace
from genai_trace import Source
from genai_trace.exporters.otlp import OTLPTraceExporter
from tests.helpers.backends import MlflowServer, PhoenixServer, http_request

pytest_plugins = ["tests.helpers.backends"]
pytestmark = pytest.mark.backend


@pytest.fixture(autouse=True)
def back_to_memory() -> Iterator[None]:
    yield
    genai_trace.configure(exporters=[])


def four_moments(make_exporter: Callable[[], OTLPTraceExporter]) -> dict[str, tuple[str, str]]:
    """Log one feedback per moment; each moment's (trace id, root span id)."""
    genai_trace.configure(exporters=[make_exporter()])
    roots: dict[str, tuple[str, str]] = {}
    with genai_trace.start_span("open") as span:
        with genai_trace.start_span("step") as step:
            pass
        # a span that ended, in a trace still open: its backend call waits for the trace too
        genai_trace.log_feedback(span.trace_id, "open_step", 1, span_id=step.span_id)
        genai_trace.log_feedback(span.trace_id, "open", True, source=Source.human("ada"))
    roots["open"] = (span.trace_id, span.span_id)
    roots["open_step"] = (span.trace_id, step.span_id)
    # completed, still in the queue: the feedback is queued behind it
    with genai_trace.start_span("queued") as span:
        pass
    genai_trace.log_feedback(
        span.trace_id, "queued", 0.25, span_id=span.span_id, rationale="partly",
        source=Source.llm_judge("gpt-4o"),
    )  # fmt: skip
    roots["queued"] = (span.trace_id, span.span_id)
    with genai_trace.start_span("exported") as span:
        genai_trace.update_current_trace(client_request_id=f"msg-{span.trace_id}")
    roots["exported"] = (span.trace_id, span.span_id)
    with genai_trace.start_span("later") as span:
        pass
    roots["later"] = (span.trace_id, span.span_id)
    assert genai_trace.flush(30)
    genai_trace.log_feedback(f"msg-{roots['exported'][0]}", "exported", "good")
    assert genai_trace.flush(30)
    # a new configuration knows the last trace by its id only, as another process would
    genai_trace.configure(exporters=[make_exporter()])
    genai_trace.log_expectation(roots["later"][0], "later", {"answer": "Paris"})
    assert genai_trace.flush(30)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert (counts["feedback_exported"], counts["feedback_failed"]) == (1, 0)
    return roots


def poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:  # bounded by the deadline
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def phoenix_annotations(phoenix: PhoenixServer, kind: str, ids: list[str]) -> list[Any]:
    query = urllib.parse.urlencode({f"{kind}_ids": ids, "limit": 100}, doseq=True)
    url = f"{phoenix.base_url}/v1/projects/default/{kind}_annotations?{query}"
    status, payload = http_request("GET", url)
    if status == 404:  # "None of the supplied trace_ids exist": not stored yet
        return []
    assert status == 200, payload
    return list(json.loads(payload)["data"])


def test_phoenix_shows_each_feedback_once_as_an_annotation_and_an_event(
    phoenix: PhoenixServer,
) -> None:
    roots = four_moments(lambda: OTLPTraceExporter(phoenix.base_url))
    trace_ids = [roots[m][0] for m in ("open", "exported", "later")]
    traces = poll(
        lambda: phoenix_annotations(phoenix, "trace", trace_ids), lambda got: len(got) >= 3
    )
    span_ids = [roots["queued"][1], roots["open_step"][1]]
    spans = poll(lambda: phoenix_annotations(phoenix, "span", span_ids), lambda got: len(got) >= 2)
    time.sleep(1)  # a duplicate would have had time to arrive too
    traces = phoenix_annotations(phoenix, "trace", trace_ids)
    spans = phoenix_annotations(phoenix, "span", span_ids)
    got = {a["name"]: (a["trace_id"], a["annotator_kind"], a["result"]) for a in traces} | {
        a["name"]: (a["span_id"], a["annotator_kind"], a["result"]) for a in spans
    }
    assert len(traces) + len(spans) == len(got) == 5
    assert got == {
        "open_step": (
            roots["open_step"][1],
            "HUMAN",
            {"label": None, "score": 1.0, "explanation": None},
        ),
        "open": (roots["open"][0], "HUMAN", {"label": "true", "score": 1.0, "explanation": None}),
        "queued": (
            roots["queued"][1],
            "LLM",
            {"label": None, "score": 0.25, "explanation": "partly"},
        ),
        "exported": (
            roots["exported"][0],
            "HUMAN",
            {"label": "good", "score": None, "explanation": None},
        ),
        "later": (roots["later"][0], "HUMAN", {"label": None, "score": None, "explanation": None}),
    }
    later = next(a for a in traces if a["name"] == "later")
    assert later["metadata"]["value"] == {"answer": "Paris"}

    # the OTel form: the event on the live span, else on a small span of the trace
    open_spans = {s["name"]: s for s in phoenix.spans(roots["open"][0], expect=3)}
    assert [e["name"] for e in open_spans["open"]["events"]] == ["gen_ai.evaluation.result"]
    assert open_spans["genai_trace.feedback"]["parent_id"] == roots["open_step"][1]
    queued = {s["name"]: s for s in phoenix.spans(roots["queued"][0], expect=2)}
    feedback_span = queued["genai_trace.feedback"]
    assert feedback_span["parent_id"] == roots["queued"][1]
    (event,) = feedback_span["events"]
    assert event["attributes"]["gen_ai.evaluation.score.value"] == 0.25


def test_mlflow_shows_each_feedback_once_as_an_assessment(mlflow_server: MlflowServer) -> None:
    roots = four_moments(
        lambda: OTLPTraceExporter(
            mlflow_server.base_url, dialect="mlflow", headers=mlflow_server.headers
        )
    )

    def assessments(trace_id: str) -> list[dict[str, Any]]:
        found = mlflow_server.fetch_trace(trace_id) or {}
        return list((found.get("trace_info") or {}).get("assessments") or [])

    got: dict[str, Any] = {}
    for moment, (trace_id, _) in roots.items():
        if moment == "open_step":
            continue  # the open trace has two: read there
        wanted = 2 if moment == "open" else 1
        found = poll(
            lambda t=trace_id: assessments(t),  # type: ignore[misc]
            lambda got, n=wanted: len(got) >= n,  # type: ignore[misc]
        )
        assert len(found) == wanted, (moment, found)
        for assessment in found:
            got[assessment["assessment_name"]] = _summary(assessment)
    assert got == {
        "open_step": (
            f"tr-{roots['open'][0]}",
            roots["open_step"][1],
            {"source_type": "HUMAN", "source_id": "default"},
            1,
            None,
        ),
        "open": (
            f"tr-{roots['open'][0]}",
            None,
            {"source_type": "HUMAN", "source_id": "ada"},
            True,
            None,
        ),
        "queued": (
            f"tr-{roots['queued'][0]}",
            roots["queued"][1],
            {"source_type": "LLM_JUDGE", "source_id": "gpt-4o"},
            0.25,
            "partly",
        ),
        "exported": (
            f"tr-{roots['exported'][0]}",
            None,
            {"source_type": "HUMAN", "source_id": "default"},
            "good",
            None,
        ),
        "later": (
            f"tr-{roots['later'][0]}",
            None,
            {"source_type": "HUMAN", "source_id": "default"},
            {"answer": "Paris"},
            None,
        ),
    }


def _summary(assessment: dict[str, Any]) -> tuple[Any, ...]:
    held = assessment.get("feedback") or assessment["expectation"]
    # MLflow keeps a structured expectation as JSON text (as its own client sends it)
    value = held["value"] if "value" in held else json.loads(held["serialized_value"]["value"])
    return (
        assessment["trace_id"],
        assessment.get("span_id"),
        assessment["source"],
        value,
        assessment.get("rationale"),
    )
