"""The public names of ``genai_trace``: pinned, importable, documented.

Adding or removing a public name is a decision: this list changes with it, in the same commit.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import types

import pytest

import genai_trace

PUBLIC_NAMES = [
    "AlreadyEndedError",
    "Config",
    "DuplicateTraceError",
    "EvaluationResult",
    "ExportResult",
    "Feedback",
    "GenAISpan",
    "MalformedIdError",
    "OpenSpansError",
    "RootSpanError",
    "SessionBaggagePropagator",
    "Source",
    "SpanEvent",
    "SpanNotFoundError",
    "SpanRecord",
    "SpanType",
    "TokenUsage",
    "Trace",
    "TraceClient",
    "TraceExporter",
    "TraceInfo",
    "TraceInfoList",
    "TraceNotFoundError",
    "TraceNotStoredError",
    "TraceStoreError",
    "TraceTimedOutError",
    "TracingError",
    "WrongTraceError",
    "__version__",
    "autolog",
    "configure",
    "context",
    "delete_trace_tag",
    "delete_traces",
    "disable",
    "enable",
    "evaluate",
    "extract",
    "flush",
    "flush_on_exit_signals",
    "get_current_span",
    "get_feedback",
    "get_last_trace_id",
    "get_trace",
    "inject",
    "is_enabled",
    "log_expectation",
    "log_feedback",
    "scorer",
    "search_traces",
    "set_trace_tag",
    "shutdown",
    "start_span",
    "stats",
    "trace",
    "update_current_trace",
    "usage",
    "use_span",
]
DOCUMENTED = [name for name in PUBLIC_NAMES if name != "__version__"]


def test_all_is_the_pinned_list_of_public_names() -> None:
    assert sorted(genai_trace.__all__) == PUBLIC_NAMES
    assert len(set(genai_trace.__all__)) == len(genai_trace.__all__)


def test_every_public_attribute_is_in_all() -> None:
    """A name the package binds without an underscore is public, so it must be listed."""
    public = {
        name
        for name, value in vars(genai_trace).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # subpackages, bound by their import
        and name != "annotations"  # from __future__ import annotations
    }
    assert public == set(genai_trace.__all__) - {"__version__"}


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_every_name_imports_from_the_package(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from genai_trace import {name}", namespace)
    assert namespace[name] is getattr(genai_trace, name)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_name_has_its_own_docstring(name: str) -> None:
    value = getattr(genai_trace, name)
    # A class's own docstring: inspect.getdoc would accept one inherited from a base class.
    doc = vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__
    assert doc and doc.strip(), f"genai_trace.{name} has no docstring"


def test_the_version_is_the_installed_distributions() -> None:
    assert genai_trace.__version__ == importlib.metadata.version("genai-trace")
