"""The contract every trace exporter meets.

Layer: ``exporters`` (public). An exporter never imports the runtime (``_runtime``/``_api``):
it is handed what it needs (traces, and at construction its settings and resource).

Fork safety, for an exporter author: a process may fork after your exporter was created
(gunicorn or Celery preforking, ``multiprocessing`` with the fork start method). The child
inherits your object, with the parent's sockets, open files and locks, but none of its
threads. Define ``after_fork_in_child(self)``: the runtime calls it, in the child, on each
exporter it was configured with, once its own locks, ids and workers are fresh and before
any trace reaches ``export`` again. In it, make new connections and locks; do not close or
flush the parent's (they are still the parent's: leave them referenced so garbage
collection does not close them from the child either). A wrapper (such as
``SampledExporter``) passes the call on with :func:`after_fork_in_child`. Never register
your own ``os.register_at_fork`` hook: hooks run in import order, the runtime's in a stated
one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

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


# Optional: ``export_feedback(deliveries) -> ExportResult``. An exporter that has it receives
# each feedback (``genai_trace.log_feedback``) as a ``FeedbackDelivery``, on the same thread
# and through the same queue as the traces, so a feedback logged after its trace completed
# comes after the trace. A feedback whose ``on_live_span`` is set already left with its trace
# (its event is on the span). One it cannot deliver (an unknown trace) it counts in an int
# attribute ``feedback_lost``, which ``genai_trace.stats()`` reports.


def use_runtime_resource(exporter: object, resource: Resource, project_name: str | None) -> None:
    """Hand ``exporter`` the provider's resource, where it takes one (``use_runtime_resource``).

    The optional contract method for exporters that send OTel resources (OTLP): the runtime
    calls it as it is configured, so no exporter reads the runtime.
    """
    hook = getattr(exporter, "use_runtime_resource", None)
    if callable(hook):
        hook(resource, project_name)


def after_fork_in_child(exporter: object) -> None:
    """Call ``exporter.after_fork_in_child()`` where it has one (the optional fork hook)."""
    hook = getattr(exporter, "after_fork_in_child", None)
    if callable(hook):
        hook()


# Optional: ``releases_views = True``. A trace from the runtime keeps its span views until
# every destination has read them; by default its destination counts a batch as read once
# ``export`` returns. An exporter that is done with each trace sooner (it turns a trace into
# bytes or rows and drops what it read) says so, and calls :func:`views_read` on each trace
# of the batch, exactly once: a batch's views then never all wait for its end.


def views_read(trace: object) -> None:
    """This destination is done with ``trace``'s views (a trace not from the runtime has none)."""
    done = getattr(trace, "views_read", None)
    if done is not None:
        done()
