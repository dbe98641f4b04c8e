"""``evaluate``: plain scorers over stored traces, each result logged as feedback."""

from __future__ import annotations

import io
from pathlib import Path

import genai_trace
from genai_trace import Source, Trace
from genai_trace.store import SQLiteTraceStore


def test_scorers_run_over_stored_traces_and_their_results_land_as_feedback(
    tmp_path: Path,
) -> None:
    genai_trace.configure(exporters=[SQLiteTraceStore(tmp_path / "traces.db", retention=None)])
    ids = []
    for question in ("hi", "a much longer question", "boom"):
        with genai_trace.start_span("answer", inputs={"q": question}) as span:
            span.set_outputs(question.upper())
        ids.append(span.trace_id)
    assert genai_trace.flush(10)

    def is_short(trace: Trace) -> bool:
        return len(trace.info.response_preview or "") < 5

    @genai_trace.scorer("judge", source=Source.llm_judge("local-model"))
    def judge(trace: Trace) -> tuple[float, str] | None:
        if trace.info.response_preview == "HI":
            return None  # no result for this one
        return 0.5, "so-so"

    def broken(trace: Trace) -> bool:
        if trace.info.response_preview == "BOOM":
            raise RuntimeError("scorer bug")
        return True

    out = io.StringIO()
    result = genai_trace.evaluate(
        genai_trace.search_traces(descending=False), [is_short, judge, broken], progress=out
    )

    assert out.getvalue().endswith("evaluate: 3/3 traces\n")
    assert result.errors == [(ids[2], "broken", "RuntimeError: scorer bug")]
    assert sorted((f.trace_id, f.name, f.value) for f in result.feedback) == sorted(
        [
            (ids[0], "is_short", True),
            (ids[0], "broken", True),
            (ids[1], "is_short", False),
            (ids[1], "judge", 0.5),
            (ids[1], "broken", True),
            (ids[2], "is_short", True),
            (ids[2], "judge", 0.5),
        ]
    )
    assert result.means() == {"is_short": 2 / 3, "judge": 0.5, "broken": 1.0}
    stored = {(f.name, f.source, f.rationale) for f in genai_trace.get_feedback(ids[1])}
    assert stored == {
        ("is_short", Source.code("is_short"), None),
        ("judge", Source.llm_judge("local-model"), "so-so"),
        ("broken", Source.code("broken"), None),
    }
    # a dict of search filters, and ids (an unknown one is an error, not a raise)
    again = genai_trace.evaluate({"text": "longer"}, [is_short], max_workers=1)
    assert [(f.trace_id, f.value) for f in again.feedback] == [(ids[1], False)]
    missing = genai_trace.evaluate(["f" * 32, ids[0]], [is_short])
    assert missing.errors == [("f" * 32, "*", "no such trace")]
    assert [f.trace_id for f in missing.feedback] == [ids[0]]
