"""Every ```python block of README.md and docs/ runs, and prints what it says it prints.

The conventions (fragments, ``#>`` output lines, snippet includes) are in
tests/helpers/docs_blocks.py and, for contributors, docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.docs_blocks import (
    COMPILE_FLAGS,
    Block,
    as_job,
    blocks_of,
    output_matches,
    pages,
)
from tests.helpers.paths import REPO_ROOT
from tests.helpers.reliability.faults import FaultyBackend
from tests.helpers.servers import openai_server

ALL_BLOCKS = [block for page in pages() for block in blocks_of(page)]
PAGES_THAT_RUN = sorted({b.page for b in ALL_BLOCKS if b.fragment is None and not b.snippet})


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.where)
def test_every_block_compiles(block: Block) -> None:
    compile(block.source, block.where, "exec", flags=COMPILE_FLAGS, dont_inherit=True)


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.snippet], ids=lambda b: b.where)
def test_a_snippet_names_an_example_that_tests_run(block: Block) -> None:
    assert block.snippet is not None
    assert (REPO_ROOT / block.snippet).is_file(), f"{block.where}: no file {block.snippet}"
    assert block.snippet.startswith("examples/"), "only examples/ is run by test_examples.py"


def test_a_fragment_has_no_output_lines_that_nothing_would_check() -> None:
    unchecked = [b.where for b in ALL_BLOCKS if b.fragment and b.expected_output is not None]
    assert unchecked == []


def test_output_comments_match_with_ellipsis() -> None:
    assert output_matches("a ... c\n", "a bbb c\n")
    assert output_matches("['OTLP is the ...']\n", "['OTLP is the OpenTelemetry protocol.']\n")
    assert not output_matches("a ... c\n", "a bbb d\n")
    assert not output_matches("one\n", "one\ntwo\n")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """What a reader's machine would have: an OpenAI-compatible API and an OTLP backend."""
    backend = FaultyBackend().start()
    with openai_server.serve() as openai:
        yield {
            "OPENAI_BASE_URL": openai.base_url,
            "OPENAI_API_KEY": "sk-docs-test",
            "OTEL_EXPORTER_OTLP_ENDPOINT": backend.endpoint,
        }
    backend.stop()


def page_env(servers: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GENAI_TRACE_", "OTEL_", "OPENAI_", "ANTHROPIC_"))
    }
    env["GENAI_TRACE_RAISE_INTERNAL_ERRORS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    env["HOME"] = str(tmp_path)
    return env | servers


@pytest.mark.slow  # one interpreter per page
@pytest.mark.parametrize("page", PAGES_THAT_RUN)
def test_the_blocks_of_a_page_run_and_print_what_they_say(
    page: str, servers: dict[str, str], tmp_path: Path
) -> None:
    blocks = [b for b in ALL_BLOCKS if b.page == page and b.fragment is None and not b.snippet]
    job = tmp_path / "blocks.json"
    job.write_text(json.dumps(as_job(blocks)), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "tests.helpers.docs_blocks", str(job)],
        cwd=tmp_path,
        env=page_env(servers, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout.splitlines()[-1])
    for block, output in zip(blocks, printed, strict=True):
        expected = block.expected_output
        if expected is not None:
            assert output_matches(expected, output), f"{block.where} printed:\n{output}"
