"""Read the package's ``Example:`` docstring sections as examples (code), not as notes.

The package's Google-style docstrings say ``Example:`` (one example each); griffe's Google
parser reads only ``Examples:`` as an examples section, so a ``>>>`` session would be shown
as prose and its ``[0]`` taken for a link. Loaded by mkdocs.yml (mkdocstrings ``extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename each ``Example:`` section header to ``Examples:`` before parsing."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the header in the object's own docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
