"""``Trace._repr_html_``: the viewer's rendering as one self-contained HTML snippet.

The snippet is checked as text (it loads nothing, and no value can end its script), and in
a real headless Chromium (marker ``browser``): a page that is only the snippet, with every
request refused, draws the waterfall and the span details.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace._semantics.notebook import outline
from genai_trace.testing import capture_traces
from tests.helpers.apps.stored_rag import rag
from tests.ui.test_ui_browser import browser  # noqa: F401 - the module's Chromium fixture

XSS = "</script><script>alert(1)</script>\u2028<!--<img src=x onerror=alert(2)>"


@genai_trace.trace(span_type=SpanType.TOOL)
def echo(text: str) -> str:
    return text


def traced(call: Any, *args: Any) -> genai_trace.Trace:
    with capture_traces() as traces:
        try:
            call(*args)
        except RuntimeError:
            pass
    (trace,) = traces
    return trace


def test_the_snippet_carries_everything_and_fetches_nothing() -> None:
    trace = traced(rag, "alpha")
    snippet = trace._repr_html_()
    assert not re.search(r"https?://", snippet)
    assert not re.search(r"""\b(?:src|href)\s*=\s*["'][^"'#]""", snippet)  # no file it loads
    assert "@import" not in snippet and "url(" not in snippet
    assert not re.search(r"^\s*(?:import|export)\s", snippet, re.MULTILINE)  # one classic script
    assert snippet.count("<script>") == 1 and snippet.count("</script>") == 1
    # Without scripts (a notebook rendered statically), the text tree shows.
    assert f"<pre>{html.escape(chr(10).join(outline(trace)))}</pre>" in snippet
    assert outline(trace)[1:] == [
        f"  rag CHAIN {trace.spans[0].duration_ms:.1f} ms",
        f"    retrieve RETRIEVER {trace.spans[1].duration_ms:.1f} ms",
        f"    generate LLM {trace.spans[2].duration_ms:.1f} ms",
    ]
    assert trace.info.trace_id in snippet


def test_values_cannot_end_the_script() -> None:
    snippet = traced(echo, XSS)._repr_html_()
    assert snippet.count("</script>") == 1 and "<!--" not in snippet
    assert "\u2028" not in snippet.split("<script>", 1)[1]


@pytest.fixture
def notebook(browser: Any) -> Iterator[Any]:  # noqa: F811 - the fixture imported above
    """A blank page standing for a notebook: every request it makes is refused and noted."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.problems = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.problems.append(f"error: {exc}"))
    page.on(
        "dialog",
        lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()),
    )

    def refuse(route: Any) -> None:
        page.problems.append(f"request: {route.request.url}")
        route.abort()

    page.route("**/*", refuse)
    yield page
    context.close()


def show(page: Any, *traces: genai_trace.Trace) -> None:
    cells = "".join(f'<div class="cell">{t._repr_html_()}</div>' for t in traces)
    page.set_content(f"<!doctype html><html><body><h1>My notebook</h1>{cells}</body></html>")


@pytest.mark.browser
def test_a_notebook_page_draws_the_waterfall_and_span_details(notebook: Any) -> None:
    from playwright.sync_api import expect

    page = notebook
    ok, failed = traced(rag, "alpha"), traced(rag, "fail")
    show(page, ok, failed)
    first, second = page.locator(".cell").nth(0), page.locator(".cell").nth(1)
    expect(first.locator(".wf-row .wf-name")).to_have_text(["rag", "retrieve", "generate"])
    expect(first.locator(".trace-page")).to_have_attribute("data-trace-id", ok.info.trace_id)
    expect(first.locator(".span-detail .span-name")).to_have_text("rag")
    expect(first.locator(".trace-name")).to_have_text("rag")
    expect(first.locator(".crumbs")).to_be_hidden()  # no list of traces to go back to
    # Clicking a span shows its details; the notebook's address stays as it was.
    address = page.url
    first.locator(".wf-row", has_text="retrieve").click()
    expect(first.locator(".span-detail .span-name")).to_have_text("retrieve")
    page.keyboard.press("ArrowDown")  # the notebook's key: the selection stays
    expect(first.locator(".span-detail .span-name")).to_have_text("retrieve")
    first.locator(".wf-row", has_text="generate").click()
    expect(first.locator(".span-detail .span-name")).to_have_text("generate")
    expect(first.locator(".span-detail .io-inputs")).to_contain_text("doc:alpha")
    assert page.url == address
    # The second trace is its own view: the error shows in its header.
    expect(second.locator(".trace-response .error-text")).to_have_text(
        "RuntimeError: model overloaded"
    )
    expect(second.locator(".wf-row.error .wf-name")).to_have_text(["rag", "generate"])
    # The viewer's styles stay inside the views: the notebook's own heading is untouched.
    size = page.locator("body > h1").evaluate("e => getComputedStyle(e).fontSize")
    assert size == "32px"
    assert page.problems == []  # type: ignore[attr-defined]


@pytest.mark.browser
def test_a_notebook_page_shows_hostile_values_as_text(notebook: Any) -> None:
    from playwright.sync_api import expect

    page = notebook
    show(page, traced(echo, XSS))
    expect(page.locator(".wf-row .wf-name")).to_have_text(["echo"])
    expect(page.locator(".trace-request .preview-text")).to_contain_text("<script>alert(1)")
    assert page.problems == []  # type: ignore[attr-defined]
