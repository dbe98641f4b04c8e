"""docs/configuration.md's settings table is generated from the one settings table, never typed."""

from __future__ import annotations

import dataclasses
import importlib.util
from types import ModuleType

from genai_trace._runtime.config import ENV_VARS, Config
from tests.helpers.paths import REPO_ROOT


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "config_table", REPO_ROOT / "scripts" / "config_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_in_the_docs_is_the_one_generated_from_config() -> None:
    script = generator()
    page = script.PAGE.read_text(encoding="utf-8")
    assert page == script.page_with_table(page), "run: python scripts/config_table.py"


def test_every_setting_has_a_documented_row_with_its_variable() -> None:
    rows = generator().table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [f.name for f in dataclasses.fields(Config)]
    for name, (variable, _) in ENV_VARS.items():
        (row,) = [row for row in rows if row.startswith(f"| `{name}` |")]
        assert f"`{variable}`" in row
        assert row.rstrip(" |").split("|")[-1].strip(), f"{name} has no docstring"
