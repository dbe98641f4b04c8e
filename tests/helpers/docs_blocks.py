"""The ```python blocks of the README and the docs, and how each one is to be checked.

The conventions (written out for contributors in docs/architecture.md, "Writing the docs"):

- The runnable blocks of one page run in order, in one namespace, in a fresh interpreter:
  a block may use what an earlier block of its page defined, as a reader would.
- ``<!-- fragment: why -->`` on the line before a block marks a fragment by design (it names
  a host of your own, an object the page does not build): it is compiled, not run.
- Lines ``#> text`` are what the block prints, in order; ``...`` in them stands for any text.
  A block without ``#>`` lines may print anything.
- A block that is only a snippet include (``--8<-- "examples/x.py"``) shows a file of
  ``examples/``: it must name an existing file, and tests/test_examples.py runs the file.

Run as ``python -m tests.helpers.docs_blocks BLOCKS.json``: runs the blocks listed there
(the runner half of tests/docs/test_examples_in_docs.py) and prints, as JSON on its last
line, what each block printed.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.helpers.paths import REPO_ROOT

FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
FRAGMENT = re.compile(r"^\s*<!--\s*fragment:\s*(?P<why>\S.*?)\s*-->\s*$")
SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')
OUTPUT_PREFIX = "#>"
COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class Block:
    """One ```python block: where it is, its code, and how it is checked."""

    page: str
    line: int
    source: str
    fragment: str | None
    """Why the block is a fragment, or None when it runs."""
    snippet: str | None
    """The file of examples/ the block includes, or None."""

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def expected_output(self) -> str | None:
        """What the block says it prints (its ``#>`` lines), or None when it says nothing."""
        lines = [
            line.strip()[len(OUTPUT_PREFIX) :].removeprefix(" ")
            for line in self.source.splitlines()
            if line.strip().startswith(OUTPUT_PREFIX)
        ]
        return "\n".join(lines) + "\n" if lines else None


def pages() -> list[Path]:
    """README.md and every Markdown page of the docs site."""
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def blocks_of(page: Path) -> list[Block]:
    """The ```python blocks of ``page``, in order."""
    name = page.relative_to(REPO_ROOT).as_posix()
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if opening["lang"] == "python":
            indent = len(opening["indent"])
            body = [line[indent:] for line in lines[index + 1 : end]]
            source = "\n".join(body) + "\n"
            marker = FRAGMENT.match(lines[index - 1]) if index else None
            include = SNIPPET.match(source) if len(body) == 1 else None
            found.append(
                Block(
                    page=name,
                    line=index + 1,
                    source=source,
                    fragment=marker["why"] if marker else None,
                    snippet=include["path"] if include else None,
                )
            )
        index = end + 1
    return found


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is ``expected``, where ``...`` in ``expected`` stands for any text."""
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def _run(blocks: list[dict[str, object]]) -> int:
    namespace: dict[str, object] = {"__name__": "__main__"}
    printed: list[str] = []
    for block in blocks:
        stdout = io.StringIO()
        # Compiled as a reader's own file would be: without this module's future imports.
        code = compile(str(block["source"]), str(block["where"]), "exec", dont_inherit=True)
        try:
            with contextlib.redirect_stdout(stdout):
                exec(code, namespace)
        except BaseException:
            sys.stderr.write(f"block {block['where']} raised:\n{traceback.format_exc()}")
            print(json.dumps(printed))
            return 1
        printed.append(stdout.getvalue())
    print(json.dumps(printed))
    return 0


def as_job(blocks: list[Block]) -> list[dict[str, object]]:
    """What the runner reads: each block's code and where it is."""
    return [{"source": b.source, "where": b.where} | asdict(b) for b in blocks]


if __name__ == "__main__":
    sys.exit(_run(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
