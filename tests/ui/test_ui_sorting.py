"""Sorting the Traces page by a column: on the server (the store's ``order_by``), page by page.

The API on its own, then the page in a real headless Chromium (marker ``browser``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from genai_trace.store import SQLiteTraceStore, TraceQuery
from genai_trace.ui import RunningViewer, start_server
from tests.ui.test_ui_api import get_json, seed
from tests.ui.test_ui_browser import Page, browser, expect, rows  # noqa: F401 - fixture

ORDERS = [
    ("duration DESC", "duration", True),
    ("duration ASC", "duration", False),
    ("tokens DESC", "tokens", True),
    ("name ASC", "name", False),
    ("start_time ASC", "start_time", False),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui-sort") / "traces.db"
    store = SQLiteTraceStore(path)
    seed(store)
    store.shutdown()
    return path


@pytest.fixture(scope="module")
def viewer(db: Path) -> Iterator[RunningViewer]:
    running = start_server(SQLiteTraceStore(db))
    yield running
    running.stop()


def stored_ids(db: Path, order_by: str, descending: bool) -> list[str]:
    query = TraceQuery(order_by=order_by, descending=descending)
    return [i.trace_id for i in SQLiteTraceStore(db).search(query)]


@pytest.mark.parametrize(("order", "order_by", "descending"), ORDERS)
def test_the_api_pages_in_the_order_asked(
    viewer: RunningViewer, db: Path, order: str, order_by: str, descending: bool
) -> None:
    seen: list[str] = []
    before = ""
    for _ in range(10):
        page = get_json(viewer, f"/api/traces?limit=2&order={quote(order)}{before}")
        seen.extend(row["trace_id"] for row in page["traces"])
        if page["next"] is None:
            break
        before = f"&before={quote(page['next'])}"
    assert seen == stored_ids(db, order_by, descending)


def test_a_bad_order_or_cursor_is_a_clear_400(viewer: RunningViewer) -> None:
    answer = get_json(viewer, "/api/traces?order=latency", status=400)
    assert answer["error"].startswith("order must be one of start_time, duration, tokens, name")
    newest_first = get_json(viewer, "/api/traces?limit=1")["next"]
    answer = get_json(viewer, f"/api/traces?order=name+ASC&before={newest_first}", status=400)
    assert answer["error"].startswith("before must be the 'next' value of a previous page in")


@pytest.fixture
def tab(browser: Any, viewer: RunningViewer) -> Iterator[Page]:  # noqa: F811 - the fixture
    page = Page(browser, viewer.url)
    yield page
    page.close()
    assert page.errors == [] and page.dialogs == []


def shown(page: Any) -> list[str | None]:
    return [r.get_attribute("data-trace-id") for r in rows(page).all()]


@pytest.mark.browser
def test_clicking_a_column_header_sorts_on_the_server_and_pages_follow(tab: Page, db: Path) -> None:
    page = tab.open("#/traces?limit=4")
    newest = stored_ids(db, "start_time", True)
    expect(rows(page)).to_have_count(4)
    assert shown(page) == newest[:4]
    duration = page.locator("th.c-duration")
    expect(duration).to_have_attribute("aria-sort", "none")

    duration.get_by_role("button").click()  # largest first
    longest = stored_ids(db, "duration", True)
    expect(duration).to_have_attribute("aria-sort", "descending")
    expect(rows(page).first).to_have_attribute("data-trace-id", longest[0])
    assert shown(page) == longest[:4]
    assert "order=duration+DESC" in page.url
    page.get_by_role("button", name="Next →").click()  # the next page of the same order
    expect(page.locator(".pager")).to_contain_text(f"5\u2013{len(longest)} of {len(longest)}")
    assert shown(page) == longest[4:]

    duration.get_by_role("button").click()  # again: smallest first, from the first page
    expect(duration).to_have_attribute("aria-sort", "ascending")
    shortest = stored_ids(db, "duration", False)
    expect(rows(page).first).to_have_attribute("data-trace-id", shortest[0])
    assert shown(page) == shortest[:4]

    page.locator("th.c-name").get_by_role("button").click()  # names: A to Z first
    expect(page.locator("th.c-name")).to_have_attribute("aria-sort", "ascending")
    expect(duration).to_have_attribute("aria-sort", "none")
    by_name = stored_ids(db, "name", False)
    expect(rows(page).first).to_have_attribute("data-trace-id", by_name[0])
    assert shown(page) == by_name[:4]

    page.reload()  # the order is in the link
    expect(page.locator("th.c-name")).to_have_attribute("aria-sort", "ascending")
    expect(rows(page)).to_have_count(4)
    assert shown(page) == by_name[:4]
