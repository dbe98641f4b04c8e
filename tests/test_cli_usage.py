"""``genai-trace stats --by``, run as a user runs it: a subprocess against a real store."""

from __future__ import annotations

import json
from pathlib import Path

from genai_trace.store.writer import SQLiteTraceStore
from tests.store.test_usage_store import GPT_4O_COST, HAIKU_COST, fill
from tests.test_cli import cli


def test_stats_by_model_as_json(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    fill(SQLiteTraceStore(db))
    result = cli("stats", "--by", "model", "--since", "24h", "--json", db=db)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["key"], r["count"], r["total_tokens"], r["cache_read_tokens"], r["unpriced"])
            for r in rows] == [
        (None, 1, 0, 0, 0),
        ("gpt-4o-2024-08-06", 1, 1100, 200, 0),
        ("claude-haiku-4-5", 1, 150, 0, 0),
        ("mystery-model", 1, 20, 0, 1),
    ]  # fmt: skip
    assert [r["cost_usd"] for r in rows][1:3] == [GPT_4O_COST, HAIKU_COST]
    assert rows[3]["cost_usd"] is None
    assert rows[2]["error_rate"] == 1.0


def test_stats_by_user_as_a_table(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    fill(SQLiteTraceStore(db))
    result = cli("stats", "--by", "user", db=db)
    assert result.returncode == 0, result.stderr
    header, ada, bob = result.stdout.splitlines()
    assert header.split() == ["USER", "TRACES", "INPUT", "CACHED", "OUTPUT", "REASON",
                              "COST", "USD", "P50", "P95", "ERRORS"]  # fmt: skip
    assert ada.split()[:7] == ["ada", "1", "1000", "200", "100", "0", "0.013250"]
    assert bob.split()[:7] == ["bob", "2", "110", "0", "60", "0", "0.000350+"]  # one unpriced
    assert bob.split()[-1] == "50%"


def test_stats_since_must_be_an_age(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    fill(SQLiteTraceStore(db))
    result = cli("stats", "--by", "model", "--since", "yesterday", db=db)
    assert result.returncode == 2
    assert "--since: expected an age such as 30m, 12h or 7d, got 'yesterday'" in result.stderr
