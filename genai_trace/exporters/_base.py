"""The contract every trace exporter meets."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from genai_trace._semantics.model import Trace


class ExportResult(enum.Enum):
    """What an exporter reports back; exporters return it rather than raise."""

    SUCCESS = "success"
    FAILURE = "failure"


@runtime_checkable
class TraceExporter(Protocol):
    """Receives whole traces, in batches, on its destination's own worker thread.

    ``export`` may block (network, disk): it only ever delays its own destination. It should
    return :attr:`ExportResult.FAILURE` instead of raising; a raised exception is caught,
    logged once and counted as a failure.

    Example:
        >>> class PrintNames:
        ...     def export(self, traces):
        ...         for t in traces:
        ...             print(t.info.name)
        ...         return ExportResult.SUCCESS
        ...
        ...     def shutdown(self):
        ...         pass
        >>> genai_trace.configure(exporters=[PrintNames()])
    """

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Send ``traces`` on; called with batches of one or more."""
        ...

    def shutdown(self) -> None:
        """Release resources; called once, after the last ``export``."""
        ...
