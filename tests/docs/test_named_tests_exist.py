"""Each test the docs name (the Guarantees page names the test that keeps each promise) exists.

A name is written `test_file.py::test_name`, or `::test_name` for another test of the file
named just before it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers.docs_blocks import pages
from tests.helpers.paths import REPO_ROOT

REFERENCE = re.compile(r"`(?P<file>test_\w+\.py)?(?:::(?P<test>\w+))?")


def defined_tests() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (REPO_ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef)}
        found.setdefault(path.name, set()).update(names)
    return found


def named_tests(page: Path) -> list[tuple[str, str | None]]:
    named: list[tuple[str, str | None]] = []
    current = None
    for match in REFERENCE.finditer(page.read_text(encoding="utf-8")):
        current = match["file"] or current
        if current and (match["file"] or match["test"]):
            named.append((current, match["test"]))
    return named


def test_every_test_the_docs_name_exists() -> None:
    tests = defined_tests()
    missing = [
        f"{page.name}: {file}::{test or ''}"
        for page in pages()
        for file, test in named_tests(page)
        if file not in tests or (test is not None and test not in tests[file])
    ]
    assert missing == []


def test_the_guarantees_page_names_tests() -> None:
    assert len(named_tests(REPO_ROOT / "docs" / "guarantees.md")) >= 40
