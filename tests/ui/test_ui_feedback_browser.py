"""Giving feedback in the viewer, in a real headless Chromium: with the flag on; refused without.

The browser, its skip/fail rule and the ``Page`` recorder come from ``test_ui_browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceReader
from genai_trace.ui import start_server
from tests.ui.test_ui_browser import Page, browser, expect, rows

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared
pytestmark = pytest.mark.browser


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "traces.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db, retention=None)])
    with genai_trace.start_span("answer") as span:
        genai_trace.update_current_trace(request_preview="Capital of France?")
    with genai_trace.start_span("other"):
        pass
    assert genai_trace.flush(10)
    genai_trace.log_feedback(span.trace_id, "relevance", 0.5, rationale="half right")
    assert genai_trace.flush(10)
    genai_trace.configure(exporters=[])
    return db, span.trace_id


@pytest.fixture
def tab_factory(browser: Any) -> Iterator[Any]:
    opened: list[Page] = []

    def make(url: str) -> Page:
        page = Page(browser, url)
        opened.append(page)
        return page

    yield make
    for page in opened:
        page.close()
        assert page.errors == []
        assert page.dialogs == []


def test_a_person_gives_a_thumbs_down_with_a_comment(
    tab_factory: Any, stored: tuple[Path, str]
) -> None:
    db, trace_id = stored
    viewer = start_server(db, allow_feedback=True)
    try:
        tab = tab_factory(viewer.url)
        page = tab.open()
        row = rows(page).filter(has_text="Capital of France?")
        expect(row.locator("td.c-feedback")).to_have_text("relevance: 0.5")
        page.goto(f"{viewer.url}#/trace/{trace_id}")
        panel = page.locator(".feedback-panel")
        expect(panel.locator(".fb-item")).to_have_count(1)
        expect(panel.locator(".fb-item .fb-rationale")).to_have_text("half right")
        panel.locator(".fb-comment").fill("wrong city")
        panel.locator("button.fb-give-down").click()
        expect(panel.locator(".fb-status")).to_have_text("saved")
        expect(panel.locator(".fb-item")).to_have_count(2)
        expect(panel.locator(".fb-item").nth(1)).to_contain_text("👎")
        expect(panel.locator(".fb-item").nth(1)).to_contain_text("wrong city")
        page.locator("a.back").click()
        expect(rows(page).filter(has_text="Capital of France?").locator(".fb-down")).to_have_text(
            "👎 1"
        )
        outside = [url for url in tab.requests if not url.startswith(viewer.url)]
        assert outside == []
    finally:
        viewer.stop()
    stored_feedback = TraceReader(db).get_feedback(trace_id)
    assert [(f.name, f.value, f.rationale) for f in stored_feedback] == [
        ("relevance", 0.5, "half right"),
        ("thumbs", False, "wrong city"),
    ]


def test_without_the_flag_the_page_offers_no_form_and_the_server_refuses(
    tab_factory: Any, stored: tuple[Path, str]
) -> None:
    db, trace_id = stored
    viewer = start_server(db)
    try:
        tab = tab_factory(viewer.url)
        page = tab.open(f"#/trace/{trace_id}")
        panel = page.locator(".feedback-panel")
        expect(panel.locator(".fb-item")).to_have_count(1)
        expect(panel.locator(".fb-form")).to_have_count(0)
        # a script on the page that tries anyway is refused by the server
        status = page.evaluate(
            """async (id) => (await fetch(`/api/traces/${id}/feedback`, {method: "POST",
                headers: {"Content-Type": "application/json"}, body: '{"value": true}'})).status""",
            trace_id,
        )
        assert status == 405
        assert tab.errors == [  # the browser logs the refusal: expected here
            "Failed to load resource: the server responded with a status of 405 "
            "(Method Not Allowed)"
        ]
        tab.errors.clear()
    finally:
        viewer.stop()
    assert [f.name for f in TraceReader(db).get_feedback(trace_id)] == ["relevance"]
