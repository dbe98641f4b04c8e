"""A trace drawn in a notebook cell by the viewer's own code: ``Trace._repr_html_``.

The viewer (``genai-trace ui``) renders a trace with its ES modules and stylesheet; a
notebook has no server to fetch them from. So the snippet carries them: the modules that
draw a trace (``dom.js``, ``values.js``, ``feedback.js``, ``trace.js``) joined into one script, the
stylesheet, and the trace's JSON, all inline, drawn into a shadow root so the viewer's
styles and the notebook's never meet. Nothing is fetched, so it works offline and in a
saved notebook. Where scripts do not run (a static render of the notebook), the span tree
shows as text instead.

In the notebook the view is a guest: the page's address (``history``) is never rewritten,
the arrow keys are left to the notebook, and the back link to the list of traces is hidden.

Layer: ``_semantics``; reads the viewer's files as package data (``genai_trace/ui/static``),
imports nothing above it.
"""

from __future__ import annotations

import html
import re
import secrets
from importlib import resources
from typing import TYPE_CHECKING

from genai_trace._semantics.capture import safe_repr
from genai_trace._semantics.codec import dumps

if TYPE_CHECKING:
    from genai_trace._semantics.model import Trace

_MODULES = ("dom.js", "values.js", "feedback.js", "trace.js")
"""The viewer's modules that draw one trace, each after those it imports (``api.js``, the
server's API, is left out: the snippet's ``getJSON`` answers that there is no server)."""
_IMPORT = re.compile(r"^import\s[^;]*?\sfrom\s+\"[^\"]+\";[ \t]*\n", re.MULTILINE)
_EXPORT = re.compile(r"^export\s+(?=(?:async\s+)?function\b|const\b|let\b|class\b)", re.MULTILINE)
_NOTEBOOK_CSS = """
:host { all: initial; display: block; }
.gt-root { background: var(--bg); color: var(--ink); font: 13px/1.45 var(--sans);
  border: 1px solid var(--line); border-radius: 8px; }
.page { padding: 10px 12px 14px; }
.crumbs { display: none; }
.span-detail { position: static; max-height: 640px; }
"""
# What JSON may hold that would end the script or confuse a parser of HTML or of JS.
_JS_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def trace_html(trace: Trace) -> str:
    """The self-contained HTML of ``trace``'s view: waterfall, span details, no server."""
    host_id = f"genai-trace-{secrets.token_hex(6)}"
    data = "".join(_JS_UNSAFE.get(c, c) for c in dumps(trace.to_dict(), default=safe_repr))
    fallback = html.escape("\n".join(outline(trace)))
    return (
        f'<div id="{host_id}" class="genai-trace-view"><pre>{fallback}</pre></div>\n'
        '<script>\n(() => {\n"use strict";\n'
        f"const HOST_ID = {dumps(host_id, default=safe_repr)};\nconst TRACE = {data};\n"
        f"const CSS = {_script_string(_viewer_css())};\n"
        # Shadows window.history for the viewer's code: a click must not rewrite the
        # notebook's address.
        "const history = { replaceState() {} };\n"
        # No server behind a notebook: what the view would ask it (may feedback be given
        # here?) is answered no, and nothing is fetched.
        'const getJSON = () => Promise.reject(new Error("no genai-trace ui server here"));\n'
        "class ApiError extends Error {}\n"
        f"{_viewer_script()}\n"
        "const host = document.getElementById(HOST_ID);\n"
        'const root = host.attachShadow({ mode: "open" });\n'
        'const style = document.createElement("style");\n'
        "style.textContent = CSS;\n"
        'const main = document.createElement("div");\n'
        'main.className = "gt-root";\n'
        "root.append(style, main);\n"
        'const view = render(main, TRACE, "#");\n'
        "view.stop();\n"  # the arrow keys stay the notebook's
        "view.select(null, false);\n"
        "})();\n</script>"
    )


def outline(trace: Trace) -> list[str]:
    """The span tree as lines of text, for where the script does not run.

    Not ``render.render_trace`` (the full text view): ``render`` builds on the model, and
    the model's ``_repr_html_`` builds on this module.
    """
    lines = [f"{trace.info.name} [{trace.info.state}] {trace.info.trace_id}"]
    for span, depth in trace.walk():
        took = "running" if span.duration_ms is None else f"{span.duration_ms:.1f} ms"
        lines.append(f"{'  ' * (depth + 1)}{span.name} {span.span_type} {took}")
    return lines


def _viewer_script() -> str:
    """The modules that draw a trace, as one script: imports dropped, exports plain."""
    parts = []
    for name in _MODULES:
        source = _static(name)
        parts.append(_EXPORT.sub("", _IMPORT.sub("", source)))
    return "\n".join(parts)


def _viewer_css() -> str:
    """The viewer's stylesheet for a shadow root (its page rules aimed at the host)."""
    css = _static("app.css").replace(":root {", ":host {").replace("html, body {", ".gt-root {")
    return css + _NOTEBOOK_CSS


def _static(name: str) -> str:
    return (
        resources.files("genai_trace")
        .joinpath("ui")
        .joinpath("static")
        .joinpath(name)
        .read_text("utf-8")
    )


def _script_string(text: str) -> str:
    return "".join(_JS_UNSAFE.get(c, c) for c in dumps(text, default=safe_repr))
