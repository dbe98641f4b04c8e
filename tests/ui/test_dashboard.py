"""The usage dashboard and the cost column: its API against a real store, and the page in a
real headless Chromium (marker ``browser``) with data and with an empty store."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genai_trace.store.writer import SQLiteTraceStore
from genai_trace.ui import RunningViewer, start_server
from tests.store.test_usage_store import GPT_4O_COST, HAIKU_COST, fill
from tests.ui.test_ui_browser import (
    Page,
    browser,  # noqa: F401 - the fixture, read by name
    expect,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard") / "traces.db"
    store = SQLiteTraceStore(path)
    fill(store)
    store.shutdown()
    return path


@pytest.fixture(scope="module")
def viewer(db: Path) -> Iterator[RunningViewer]:
    running = start_server(db)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def empty_viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningViewer]:
    running = start_server(tmp_path_factory.mktemp("empty") / "traces.db")  # no file yet
    yield running
    running.stop()


def get_json(viewer: RunningViewer, path: str) -> Any:
    with urllib.request.urlopen(viewer.url + path, timeout=10) as response:
        return json.loads(response.read())


def test_the_usage_api_gives_each_models_cost_tokens_and_latency_over_time(
    viewer: RunningViewer,
) -> None:
    before = time.time()
    data = get_json(viewer, "api/usage?since_s=3600&buckets=6")
    assert data["bucket_s"] == 600
    assert len(data["times"]) == 6 and before - 3600 <= data["times"][0] <= time.time() - 3600
    assert sorted(data["series"]) == ["claude-haiku-4-5", "gpt-4o-2024-08-06", "mystery-model"]
    gpt = data["series"]["gpt-4o-2024-08-06"]
    assert gpt["cost_usd"][:5] == [None] * 5 and gpt["cost_usd"][5] == pytest.approx(GPT_4O_COST)
    assert gpt["tokens"] == [None] * 5 + [1100]
    assert data["series"]["mystery-model"]["cost_usd"] == [None] * 6  # unknown, never 0
    models = [(m["key"], m["count"], m["cost_usd"]) for m in data["models"]]
    assert models == [
        ("gpt-4o-2024-08-06", 1, pytest.approx(GPT_4O_COST)),
        ("claude-haiku-4-5", 1, pytest.approx(HAIKU_COST)),
        ("mystery-model", 1, None),
    ]


def test_the_usage_api_on_an_empty_store_and_bad_parameters(
    empty_viewer: RunningViewer,
) -> None:
    assert get_json(empty_viewer, "api/usage") == {
        "bucket_s": None, "times": [], "series": {}, "models": []
    }  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(empty_viewer.url + "api/usage?buckets=0", timeout=10)
    assert caught.value.code == 400
    assert "buckets must be between 1 and 500" in json.loads(caught.value.read())["error"]


@pytest.mark.browser
def test_the_dashboard_draws_three_charts_and_the_models(
    request: pytest.FixtureRequest, viewer: RunningViewer
) -> None:
    tab = Page(request.getfixturevalue("browser"), viewer.url)
    page = tab.open("#/dashboard?range=1h")
    charts = page.locator(".chart")
    expect(charts).to_have_count(3)
    for key in ("cost_usd", "tokens", "p95_ms"):
        expect(page.locator(f".chart[data-chart={key}] canvas")).to_have_count(1)
    legend = page.locator(".chart[data-chart=cost_usd] .u-legend")
    expect(legend).to_contain_text("gpt-4o-2024-08-06")
    expect(legend).to_contain_text("mystery-model")
    models = page.locator("table.usage-models tbody tr")
    expect(models).to_have_count(3)
    expect(models.nth(0)).to_contain_text("gpt-4o-2024-08-06")
    expect(models.nth(0)).to_contain_text("$0.0032")
    expect(models.nth(2)).to_contain_text("—")  # no price: unknown, not $0
    expect(page.locator("nav a[data-nav=dashboard]")).to_have_class("on")
    tab.close()
    assert tab.errors == [] and tab.dialogs == []
    assert [u for u in tab.requests if not u.startswith(viewer.url)] == []


@pytest.mark.browser
def test_the_dashboard_of_an_empty_store_says_so(
    request: pytest.FixtureRequest, empty_viewer: RunningViewer
) -> None:
    tab = Page(request.getfixturevalue("browser"), empty_viewer.url)
    page = tab.open("#/dashboard")
    expect(page.locator("[data-empty=usage]")).to_contain_text("No LLM calls with token usage")
    expect(page.locator(".chart")).to_have_count(0)
    tab.close()
    assert tab.errors == [] and tab.dialogs == []


@pytest.mark.browser
def test_the_traces_page_shows_each_traces_cost(
    request: pytest.FixtureRequest, viewer: RunningViewer
) -> None:
    tab = Page(request.getfixturevalue("browser"), viewer.url)
    page = tab.open("#/traces")
    expect(page.locator("table.traces th.c-cost")).to_have_text("Cost")
    costs = page.locator("table.traces tbody tr[data-trace-id] td.c-cost")
    expect(costs).to_have_count(3)
    # newest first: mystery (unknown), claude (failed, priced), the agent with a tool
    expect(costs).to_have_text(["—", "$0.0003", "$0.0132"])
    tab.close()
    assert tab.errors == [] and tab.dialogs == []
