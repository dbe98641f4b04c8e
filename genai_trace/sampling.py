"""Tail sampling: decide per destination, from the whole finished trace, what to keep.

Only possible because traces are assembled whole: an error deep in the tree, or a slow
total, is known before anything is sent. Head sampling (the OTel sampler on the provider)
still applies first: spans it drops are never recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genai_trace._errors import log_internal_error
from genai_trace._semantics.model import Trace
from genai_trace.exporters._base import (
    ExportResult,
    TraceExporter,
    after_fork_in_child,
    use_runtime_resource,
    views_read,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

_RANDOM_BITS = 56  # W3C: the low 56 bits of a trace id are random


@dataclass(frozen=True)
class TailSampler:
    """Keep errors, slow traces, incomplete traces, and a fraction of the rest.

    The fraction is decided by the trace id, so every destination and every process keeps
    the same traces at the same rate. ``decide`` sees the whole trace first and may answer
    ``True`` (keep), ``False`` (drop) or ``None`` (let the rules decide).

    Example:
        >>> TailSampler(rate=0.1, keep_slower_than_ms=2000,
        ...             decide=lambda t: True if t.info.tags.get("vip") else None)
    """

    rate: float = 1.0
    keep_errors: bool = True
    keep_slower_than_ms: float | None = None
    keep_incomplete: bool = True
    decide: Callable[[Trace], bool | None] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {self.rate!r}")
        if self.keep_slower_than_ms is not None and self.keep_slower_than_ms < 0:
            raise ValueError(f"keep_slower_than_ms must be >= 0, got {self.keep_slower_than_ms}")
        if self.decide is not None and not callable(self.decide):
            raise TypeError(f"decide must be callable, got {self.decide!r}")

    def should_keep(self, trace: Trace) -> bool:
        """Whether ``trace`` goes to the destination."""
        if self.decide is not None:
            verdict = self.decide(trace)
            if verdict is not None:
                return bool(verdict)
        info = trace.info
        if self.keep_errors and (
            info.state == "ERROR" or any(s.status == "ERROR" for s in trace.spans)
        ):
            return True
        if self.keep_incomplete and not info.complete:
            return True
        duration = info.duration_ms
        if self.keep_slower_than_ms is not None and duration is not None:
            if duration >= self.keep_slower_than_ms:
                return True
        return _in_fraction(info.trace_id, self.rate)


def _in_fraction(trace_id: str, rate: float) -> bool:
    if rate >= 1.0:
        return True
    try:
        value = int(trace_id[-_RANDOM_BITS // 4 :], 16)
    except ValueError:
        return True
    return value < rate * (1 << _RANDOM_BITS)


class SampledExporter:
    """An exporter that passes on only the traces its sampler keeps, counting the rest.

    Example:
        >>> genai_trace.configure(exporters=[
        ...     SQLiteTraceStore(),                                        # keeps everything
        ...     SampledExporter(OTLPTraceExporter(...), TailSampler(rate=0.05)),  # errors + 5%
        ... ])
    """

    def __init__(self, exporter: TraceExporter, sampler: TailSampler) -> None:
        self.exporter = exporter
        self.sampler = sampler
        self.name = f"{getattr(exporter, 'name', type(exporter).__name__)} (sampled)"
        self.kept = 0
        self.sampled_out = 0
        self._sampled_out_untaken = 0

    releases_views = True
    """Each trace's views are let go once (``DeferredTrace.views_read``): a dropped trace's
    here, a kept one's by the wrapped exporter if it does so itself, else here after it."""

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Export the kept traces (a sampler that raises keeps the trace: lose nothing)."""
        kept = []
        for trace in traces:
            try:
                keep = self.sampler.should_keep(trace)
            except Exception:
                log_internal_error("tail sampler")
                keep = True
            if keep:
                kept.append(trace)
            else:
                views_read(trace)
        self.kept += len(kept)
        self.sampled_out += len(traces) - len(kept)
        self._sampled_out_untaken += len(traces) - len(kept)
        if not kept:
            return ExportResult.SUCCESS
        try:
            return self.exporter.export(kept)
        finally:
            if not getattr(self.exporter, "releases_views", False):
                for trace in kept:
                    views_read(trace)

    def take_sampled_out(self) -> int:
        """Traces dropped by the sampler since the last call (the pipeline counts them)."""
        count, self._sampled_out_untaken = self._sampled_out_untaken, 0
        return count

    def take_rejected(self) -> int:
        """Pass on the wrapped exporter's rejected count (the local store refuses single traces)."""
        take_rejected = getattr(self.exporter, "take_rejected", None)
        return int(take_rejected()) if take_rejected is not None else 0

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()

    def use_runtime_resource(self, resource: Resource, project_name: str | None) -> None:
        """Pass the runtime's resource on to the wrapped exporter (the contract's hook)."""
        use_runtime_resource(self.exporter, resource, project_name)

    def after_fork_in_child(self) -> None:
        """Pass the fork on: the wrapped exporter may hold connections (the contract's hook)."""
        after_fork_in_child(self.exporter)
