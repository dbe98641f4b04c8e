"""The public errors (``genai_trace.exceptions``) and the version: one home each."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_trace
from genai_trace import exceptions
from genai_trace.exporters import InMemoryTraceExporter
from genai_trace.store import schema

_BRANCH = re.compile(r"^(?P<indent>[│ ]*)[├└]── (?P<name>\w+)\s+(?:\(also an? (?P<also>\w+)\))?")


def _drawn_tree() -> dict[str, tuple[str, str | None]]:
    """Each class of the docstring's drawing -> (its drawn parent, the builtin it also is)."""
    doc = exceptions.__doc__ or ""
    drawing = doc.split("Hierarchy::", 1)[1].strip("\n").split("\n\n", 1)[0].splitlines()
    root = drawing[0].split()[0]
    parents = [root]
    tree: dict[str, tuple[str, str | None]] = {root: ("Exception", None)}
    for line in drawing[1:]:
        match = _BRANCH.match(line.strip("\n")[4:])  # the drawing is indented by four
        assert match is not None, line
        depth = len(match["indent"]) // 4 + 1
        del parents[depth:]
        tree[match["name"]] = (parents[-1], match["also"])
        parents.append(match["name"])
    return tree


def _defined_errors() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == exceptions.__name__
    }


def test_the_hierarchy_is_the_one_drawn_in_the_docstring() -> None:
    tree = _drawn_tree()
    errors = _defined_errors()
    assert sorted(tree) == sorted(errors)
    for name, cls in errors.items():
        parent, also = tree[name]
        bases = [base.__name__ for base in cls.__bases__]
        assert bases == [parent] if also is None else [parent, also], name


def test_every_error_is_public_from_the_package_and_the_module() -> None:
    names = sorted(_defined_errors())
    assert exceptions.__all__ == names
    for name in names:
        assert name in genai_trace.__all__
        assert getattr(genai_trace, name) is getattr(exceptions, name)


def test_the_store_raises_the_public_error(tmp_path: Path) -> None:
    assert schema.TraceStoreError is genai_trace.TraceStoreError
    with pytest.raises(genai_trace.TraceStoreError, match="no trace store at") as raised:
        genai_trace.search_traces(db_path=tmp_path / "missing.db")
    assert isinstance(raised.value, genai_trace.TracingError)


def test_the_version_is_the_installed_one_and_names_the_tracer() -> None:
    installed = importlib.metadata.version("genai-trace")
    assert genai_trace.__version__ == installed
    app_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_spans))
    genai_trace.configure(tracer_provider=provider, exporters=[InMemoryTraceExporter()])
    try:
        with genai_trace.start_span("step"):
            pass
    finally:
        genai_trace.shutdown()
    (span,) = app_spans.get_finished_spans()
    scope = span.instrumentation_scope
    assert scope is not None
    assert (scope.name, scope.version) == ("genai_trace", installed)
