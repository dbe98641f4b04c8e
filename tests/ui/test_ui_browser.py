"""The viewer in a real headless Chromium (Debian's, at /usr/bin/chromium, driven by Playwright).

The store is seeded by real traced code. Without Chromium or Playwright these tests skip,
naming the setup command; under CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace.store import SQLiteTraceStore, TraceQuery
from genai_trace.ui import RunningViewer, start_server
from tests.helpers.apps.stored_rag import fill
from tests.helpers.sqlite import connect

# Needs Chromium: `pytest -m 'not browser'` leaves this module out.
pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
LONG = "Summarize this: " + "a very long prompt " * 20
WAIT_MS = 10_000


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401 - only whether it imports
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (run: bash scripts/setup_browser.sh)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests cannot run: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        yield chromium
        chromium.close()


@genai_trace.trace(span_type=SpanType.LLM)
def echo(prompt: str) -> str:
    return f"echo:{prompt}"


@genai_trace.trace(span_type=SpanType.CHAT_MODEL)
def chat(messages: list[dict[str, str]]) -> dict[str, str]:
    return {"role": "assistant", "content": "Paris."}


def seed(store: SQLiteTraceStore) -> None:
    fill(store)  # rag alpha, beta (session s-1, ada), fail (s-2, bob, ERROR), plain
    genai_trace.configure(exporters=[store])
    chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital?"}])
    echo(LONG)
    with genai_trace.context(tags={"note": XSS}):
        echo(XSS)
    assert genai_trace.flush(10)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui-browser") / "traces.db"
    store = SQLiteTraceStore(path)
    seed(store)
    store.shutdown()
    return path


@pytest.fixture(scope="module")
def viewer(db: Path) -> Iterator[RunningViewer]:
    running = start_server(db)
    yield running
    running.stop()


class Page:
    """A fresh browser page that records dialogs, script errors and every request."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)
        self.context.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, hash_: str = "") -> Any:
        self.page.goto(self.base_url + hash_)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, viewer: RunningViewer) -> Iterator[Page]:
    page = Page(browser, viewer.url)
    yield page
    page.close()
    assert page.errors == []
    assert page.dialogs == []
    outside = [url for url in page.requests if not url.startswith(viewer.url)]
    assert outside == [], "the page fetched from outside the machine"


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def rows(page: Any) -> Any:
    return page.locator("table.traces tbody tr[data-trace-id]")


def trace_id_of(db: Path, request_preview: str) -> str:
    (info,) = [i for i in SQLiteTraceStore(db).search() if i.request_preview == request_preview]
    return info.trace_id


def test_the_traces_page_shows_request_and_response_previews(tab: Page, db: Path) -> None:
    page = tab.open()
    infos = SQLiteTraceStore(db).search()
    expect(rows(page)).to_have_count(len(infos))
    assert [r.get_attribute("data-trace-id") for r in rows(page).all()] == [
        i.trace_id for i in infos
    ]
    expect(page.locator("td.c-name a")).to_have_text([i.name for i in infos])
    expect(page.locator("td.c-state")).to_have_text([i.state for i in infos])
    for row, info in zip(rows(page).all(), infos, strict=True):
        for column, preview in (
            ("request", info.request_preview),
            ("response", info.response_preview),
        ):
            cell = row.locator(f"td.c-{column}")
            if column == "response" and info.state == "ERROR" and not preview:
                preview = "RuntimeError: model overloaded"  # the error, where no response is
            assert cell.get_attribute("title") == (preview or "")  # whole on hover
            text = cell.text_content() or ""
            if len(preview or "") <= 160:
                assert text == (preview or "")
            else:  # truncated for the table
                assert len(text) == 160 and text.endswith("…")
                assert " ".join((preview or "").split()).startswith(text[:-1])
    alpha = rows(page).filter(has_text="answer:alpha")
    expect(alpha.locator("td.c-tokens")).to_have_text("15")
    expect(alpha.locator("td.c-session")).to_have_text("s-1")
    expect(alpha.locator("td.c-user")).to_have_text("ada")
    expect(alpha.locator("td.c-tags")).to_have_text("q=alpha")
    expect(page.locator(".pager")).to_contain_text(f"1\u2013{len(infos)} of {len(infos)}")


def test_the_trace_view_shows_the_waterfall_and_the_selected_span(tab: Page, db: Path) -> None:
    page = tab.open()
    rows(page).filter(has_text="answer:alpha").locator("td.c-name a").click()
    trace_id = trace_id_of(db, "alpha")
    expect(page.locator(".trace-page")).to_have_attribute("data-trace-id", trace_id)
    spans = page.locator(".wf-row")
    expect(spans.locator(".wf-name")).to_have_text(["rag", "retrieve", "generate"])
    assert [s.get_attribute("data-depth") for s in spans.all()] == ["0", "1", "1"]
    bars = [s.locator(".wf-bar").get_attribute("class") or "" for s in spans.all()]
    assert ["t-CHAIN" in bars[0], "t-RETRIEVER" in bars[1], "t-LLM" in bars[2]] == [True] * 3
    expect(page.locator(".trace-request .preview-text")).to_have_text("alpha")
    expect(page.locator(".trace-response .preview-text")).to_have_text("answer:alpha")
    expect(page.locator("#span-detail .span-name")).to_have_text("rag")  # the root at first

    spans.filter(has_text="generate").click()
    trace = SQLiteTraceStore(db).get(trace_id)
    assert trace is not None
    generate = trace.get_span("generate")
    assert generate is not None
    expect(page).to_have_url(re.compile(f"#/trace/{trace_id}/span/{generate.span_id}$"))
    detail = page.locator("#span-detail")
    expect(detail.locator(".span-name")).to_have_text("generate")
    inputs = detail.locator(".io-inputs .json")
    expect(inputs).to_contain_text('"q": "alpha"')
    expect(inputs).to_contain_text('"doc:alpha"')
    expect(detail.locator(".io-outputs .bubble.role-assistant .text")).to_have_text("answer:alpha")
    expect(detail).to_contain_text("10 in · 5 out · 15 total")
    expect(detail.locator(".attributes")).to_contain_text("openinference.span.kind")

    # A deep link opens the same trace with the same span selected.
    page.goto(f"{tab.base_url}#/trace/{trace_id}/span/{generate.span_id}")
    page.reload()
    expect(page.locator(".wf-row.selected")).to_have_attribute("data-span-id", generate.span_id)
    expect(page.locator("#span-detail .span-name")).to_have_text("generate")
    page.locator("a.back").click()
    expect(rows(page)).to_have_count(len(SQLiteTraceStore(db).search()))


def test_errors_are_marked_and_show_their_stack_trace(tab: Page, db: Path) -> None:
    page = tab.open(f"#/trace/{trace_id_of(db, 'fail')}")
    expect(page.locator(".wf-row.error .wf-name")).to_have_text(["rag", "generate"])
    expect(page.locator(".wf-row .err-mark")).to_have_count(2)
    page.locator(".wf-row").filter(has_text="generate").click()
    detail = page.locator("#span-detail")
    expect(detail.locator(".error-box")).to_have_text("RuntimeError: model overloaded")
    stack = detail.locator(".event.exception pre.stack")
    expect(stack).to_contain_text("Traceback (most recent call last)")
    expect(stack).to_contain_text("RuntimeError: model overloaded")


def test_chat_messages_are_shown_as_a_conversation(tab: Page, db: Path) -> None:
    page = tab.open(f"#/trace/{trace_id_of(db, 'Capital?')}")
    detail = page.locator("#span-detail")
    expect(detail.locator(".io-inputs .bubble .role")).to_have_text(["system", "user"])
    expect(detail.locator(".io-inputs .bubble .text")).to_have_text(["Be brief.", "Capital?"])
    detail.locator(".io-inputs button[data-view=json]").click()
    expect(detail.locator(".io-inputs .json")).to_contain_text('"role": "system"')


def test_filters(tab: Page, db: Path) -> None:
    page = tab.open()
    total = len(SQLiteTraceStore(db).search())
    expect(rows(page)).to_have_count(total)
    page.select_option("select[name=state]", "ERROR")
    expect(rows(page).locator("td.c-request")).to_have_text(["fail"])
    expect(page).to_have_url(re.compile(r"#/traces\?state=ERROR$"))
    page.click("button.clear")
    expect(rows(page)).to_have_count(total)
    for field, value, expected in [
        ("text", "BETA", ["beta"]),
        ("name", "rag", ["fail", "beta", "alpha"]),
        ("tag", "q=alpha", ["alpha"]),
        ("session", "s-1", ["beta", "alpha"]),
        ("user", "bob", ["fail"]),
    ]:
        page.fill(f"input[name={field}]", value)
        page.press(f"input[name={field}]", "Enter")
        expect(rows(page).locator("td.c-request")).to_have_text(expected)
        page.click("button.clear")
        expect(rows(page)).to_have_count(total)
    rows(page).filter(has_text="answer:beta").locator(".chip").click()  # a tag filters
    expect(rows(page).locator("td.c-request")).to_have_text(["beta"])
    page.goto(f"{tab.base_url}#/traces?user=ada&text=alp")
    page.reload()
    expect(rows(page).locator("td.c-request")).to_have_text(["alpha"])
    expect(page.locator("input[name=user]")).to_have_value("ada")
    page.fill("input[name=text]", "nothing matches this")
    page.press("input[name=text]", "Enter")
    expect(page.locator("tr.empty-row")).to_have_text("No trace matches these filters.")


def test_paging(tab: Page, db: Path) -> None:
    infos = SQLiteTraceStore(db).search()
    page = tab.open("#/traces?limit=3")
    expect(rows(page).locator("td.c-name a")).to_have_text([i.name for i in infos[:3]])
    page.get_by_role("button", name="Older →").click()
    ids = [i.trace_id for i in infos[3:6]]
    # The first page had three rows too: wait for the second page before reading its rows.
    expect(page.locator(".pager")).to_contain_text(f"4\u20136 of {len(infos)}")
    expect(rows(page)).to_have_count(3)
    assert [r.get_attribute("data-trace-id") for r in rows(page).all()] == ids
    page.get_by_role("button", name="← Newer").click()
    expect(page.locator(".pager")).to_contain_text(f"1\u20133 of {len(infos)}")


def test_html_in_a_trace_is_shown_as_text_and_never_runs(tab: Page, db: Path) -> None:
    page = tab.open()
    cell = rows(page).filter(has_text="echo:<script>").locator("td.c-request")
    expect(cell).to_have_text(XSS)
    expect(rows(page).filter(has_text="echo:<script>").locator(".chip")).to_have_text(f"note={XSS}")
    cell.click()
    detail = page.locator("#span-detail")
    expect(detail.locator(".io-inputs .json")).to_contain_text(XSS.replace('"', '\\"'))
    expect(page.locator(".trace-request .preview-text")).to_have_text(XSS)
    expect(page.locator(".trace-header .chip")).to_have_text(f"note={XSS}")
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("document.scripts.length") == 1  # the page's own module only
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert tab.dialogs == []


def test_sessions_read_as_a_conversation(tab: Page) -> None:
    page = tab.open("#/sessions")
    expect(page.locator("table.sessions tbody tr td:first-child")).to_have_text(["s-2", "s-1"])
    page.locator("table.sessions a", has_text="s-1").click()
    expect(page).to_have_url(re.compile("#/session/s-1$"))
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".turn .role-user .text")).to_have_text(["alpha", "beta"])
    expect(page.locator(".turn .role-assistant .text")).to_have_text(
        ["answer:alpha", "answer:beta"]
    )


def test_new_traces_appear_without_a_reload(browser: Any, tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "live.db")
    running = start_server(store)  # the store does not exist yet
    tab = Page(browser, running.url)
    try:
        page = tab.open()
        expect(page.locator("tr.empty-row")).to_contain_text("No traces yet")
        page.evaluate("window.sameDocument = true")
        genai_trace.configure(exporters=[store])
        echo("live question")
        assert genai_trace.flush(10)
        expect(rows(page).locator("td.c-request")).to_have_text(["live question"])
        echo("second question")
        assert genai_trace.flush(10)
        expect(rows(page).locator("td.c-request")).to_have_text(
            ["second question", "live question"]
        )
        assert page.evaluate("window.sameDocument") is True  # no reload happened
        expect(page.locator("#live")).to_have_text("● live")
        assert store.search(TraceQuery(text="question"))
    finally:
        tab.close()
        running.stop()
    assert tab.errors == [] and tab.dialogs == []


def test_sessions_list_every_user_of_each_session(browser: Any, tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "sessions.db")
    genai_trace.configure(exporters=[store])
    for session, user, prompt in [
        ("shared", "chen", "hi from chen"),
        ("shared", "ada", "hi from ada"),
        ("solo", "bob", "hi from bob"),
    ]:
        with genai_trace.context(session_id=session, user_id=user):
            echo(prompt)
    assert genai_trace.flush(10)
    running = start_server(store)
    tab = Page(browser, running.url)
    try:
        page = tab.open("#/sessions")
        table = page.locator("table.sessions tbody")
        expect(table.locator("td:first-child")).to_have_text(["solo", "shared"])
        expect(table.locator("td.c-user")).to_have_text(["bob", "ada, chen"])
    finally:
        tab.close()
        running.stop()
    assert tab.errors == [] and tab.dialogs == []


def test_a_failed_trace_shows_its_error_where_the_response_would_be(tab: Page, db: Path) -> None:
    page = tab.open()
    cell = rows(page).filter(has_text="fail").locator("td.c-response")
    expect(cell).to_have_text("RuntimeError: model overloaded")
    expect(cell.locator(".muted")).to_have_count(1)
    page.goto(f"{tab.base_url}#/trace/{trace_id_of(db, 'fail')}")
    response = page.locator(".trace-response")
    expect(response.locator(".muted")).to_have_text("RuntimeError: model overloaded")


def test_the_tags_label_stays_on_the_line_of_its_chips(tab: Page, db: Path) -> None:
    page = tab.open(f"#/trace/{trace_id_of(db, 'alpha')}")
    label = page.locator(".trace-header dl.facts dt", has_text="Tags")
    chip = page.locator(".trace-header dl.facts .chip").first
    expect(chip).to_have_text("q=alpha")
    for width in range(420, 1400, 20):  # wherever the facts wrap, the label keeps its chips
        page.set_viewport_size({"width": width, "height": 900})
        label_box, chip_box = label.bounding_box(), chip.bounding_box()
        assert label_box is not None and chip_box is not None
        assert chip_box["y"] < label_box["y"] + label_box["height"], width
        assert label_box["y"] < chip_box["y"] + chip_box["height"], width


def test_arrow_keys_move_through_the_spans_before_any_click(tab: Page, db: Path) -> None:
    page = tab.open(f"#/trace/{trace_id_of(db, 'alpha')}")
    selected = page.locator(".wf-row.selected .wf-name")
    expect(selected).to_have_text("rag")
    page.keyboard.press("ArrowDown")
    expect(selected).to_have_text("retrieve")
    page.keyboard.press("ArrowDown")
    expect(selected).to_have_text("generate")
    page.keyboard.press("ArrowUp")
    expect(selected).to_have_text("retrieve")
    expect(page.locator("#span-detail .span-name")).to_have_text("retrieve")


def test_stack_traces_hide_genai_traces_own_frames(tab: Page, db: Path) -> None:
    page = tab.open(f"#/trace/{trace_id_of(db, 'fail')}")
    page.locator(".wf-row").filter(has_text="generate").click()
    event = page.locator("#span-detail .event.exception")
    stack = event.locator("pre.stack")
    expect(stack).to_contain_text("in generate")
    frames = [line for line in (stack.text_content() or "").splitlines() if "File " in line]
    assert frames and not [f for f in frames if f"{os.sep}genai_trace{os.sep}" in f], frames
    assert f"{os.sep}genai_trace{os.sep}" in (stack.get_attribute("title") or "")  # kept whole
    expect(event.locator(".hidden-frames")).to_contain_text("genai-trace frame")


def test_span_type_and_time_range_filters(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "ranges.db"
    store = SQLiteTraceStore(db)
    genai_trace.configure(exporters=[store])
    echo("old question")
    chat([{"role": "user", "content": "new chat"}])
    echo("new question")
    assert genai_trace.flush(10)
    store.shutdown()
    two_days_ns = 2 * 86400 * 10**9
    with connect(db) as connection:  # as if traced two days ago
        connection.execute(
            "UPDATE traces SET start_ns = start_ns - ? WHERE request_preview = 'old question'",
            (two_days_ns,),
        )
    running = start_server(db)
    tab = Page(browser, running.url)
    try:
        page = tab.open()
        requests = rows(page).locator("td.c-request")
        expect(requests).to_have_text(["new question", "new chat", "old question"])
        page.select_option("select[name=since]", "24h")
        expect(requests).to_have_text(["new question", "new chat"])
        expect(page).to_have_url(re.compile(r"#/traces\?since=24h$"))
        page.select_option("select[name=span_type]", "CHAT_MODEL")
        expect(requests).to_have_text(["new chat"])
        page.select_option("select[name=since]", "")
        page.select_option("select[name=span_type]", "LLM")
        expect(requests).to_have_text(["new question", "old question"])
        page.goto(f"{tab.base_url}#/traces?span_type=LLM&since=24h")
        page.reload()
        expect(requests).to_have_text(["new question"])
        expect(page.locator("select[name=span_type]")).to_have_value("LLM")
        page.click("button.clear")
        expect(requests).to_have_count(3)
    finally:
        tab.close()
        running.stop()
    assert tab.errors == [] and tab.dialogs == []
