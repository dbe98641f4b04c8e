"""OTLP exporter: whole traces to any OpenTelemetry backend, over HTTP/protobuf or gRPC.

The official OTLP span exporters do the sending (retries with backoff on 429/503 and
connection errors included); this class turns each whole trace into spans in the chosen
dialect and sends a batch of traces together, in one request. Over HTTP the request's bytes
are written by ``_otlp_wire`` (the same message, at a third of the official encoder's CPU)
and handed to the official exporter's HTTP client, so retries, backoff, ``Retry-After``,
timeouts, compression and TLS stay the official ones.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.util.re import parse_env_headers

from genai_trace._errors import ThrottledWarning, log_internal_error, warn_once
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.feedback import FeedbackDelivery
from genai_trace._semantics.model import Trace
from genai_trace.exporters._base import ExportResult, views_read
from genai_trace.exporters._feedback import (
    HeldFeedback,
    MlflowAssessments,
    PhoenixAnnotations,
    feedback_span,
    warn_unknown_trace,
)
from genai_trace.exporters._otel_spans import record_scope, sent_as_rebuilt, to_otel_spans
from genai_trace.exporters._otlp_wire import RequestWriter, SpanWithAttributes, encode_request
from genai_trace.exporters.dialects import Dialect, get_dialect
from genai_trace.exporters.dialects import default as default_dialect
from genai_trace.exporters.dialects import mlflow as mlflow_dialect

PROTOCOLS = sc.OTLP_PROTOCOLS
PROJECT_NAME = sc.PROJECT_NAME_ATTRIBUTE
"""``openinference.project.name``: Phoenix files traces under the project it names."""

_DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
GRPC_MISSING = 'OTLP over gRPC needs the grpc extra: pip install "genai-trace[grpc]"'
_SEND_FAILED = ThrottledWarning("genai_trace: %s could not send: %s (%d times since %s)")


class OTLPTraceExporter:
    """Sends whole traces to an OTLP endpoint, in one of the dialects.

    Args:
        endpoint: For HTTP, the base URL (``http://host:4318``; ``/v1/traces`` is added) or
            the full traces URL; for gRPC, ``http://host:port`` (plaintext) or
            ``https://host:port``/``host:port`` (TLS). ``None``
            reads ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``/``OTEL_EXPORTER_OTLP_ENDPOINT``.
        protocol: ``http/protobuf`` or ``grpc``; ``None`` reads
            ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``/``OTEL_EXPORTER_OTLP_PROTOCOL``.
        headers: Extra request headers (``OTEL_EXPORTER_OTLP_TRACES_HEADERS``/
            ``OTEL_EXPORTER_OTLP_HEADERS`` when ``None``).
        dialect: ``default`` (OpenInference and OTel GenAI keys), ``mlflow``, ``genai``
            (OTel GenAI keys only), or a function ``Trace -> {span_id: attributes}``.
        service_name: ``service.name`` on the resource. By default the resource is that of
            the TracerProvider the spans came from (``configure(service_name=...)``,
            ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``).
        project_name: ``openinference.project.name`` on the resource (Phoenix's project);
            by default ``configure(project_name=...)``/``GENAI_TRACE_PROJECT``.
        resource: The whole resource to send, instead of the provider's.
        timeout_s: Per-request timeout in seconds.
        mlflow_trace_info: With ``dialect="mlflow"``: also record each trace's info
            (previews, tags, metadata, client request id) through MLflow's trace API
            (``POST /api/3.0/mlflow/traces``, as MLflow's own client does), because
            MLflow reads none of these from OTLP spans. ``True``: at the server of
            ``endpoint``; a URL: at that MLflow server (when a collector sits in between);
            ``False``: spans only.
        phoenix_annotations: With the default dialect: also record feedback
            (:func:`genai_trace.log_feedback`) as Phoenix span and trace annotations
            through Phoenix's REST API, since Phoenix reads none from OTLP. ``True``: at the
            server of ``endpoint`` (over HTTP; a server without that API is detected and
            left alone); a URL: at that Phoenix; ``False``: OTLP events only.

    Example:
        >>> OTLPTraceExporter("http://127.0.0.1:6006", project_name="support-bot")  # Phoenix
        >>> OTLPTraceExporter("http://127.0.0.1:5000", dialect="mlflow",
        ...                   headers={"x-mlflow-experiment-id": "0"})              # MLflow
        >>> OTLPTraceExporter("collector:4317", protocol="grpc")                 # a collector

    Raises:
        ValueError: an unknown protocol or dialect; ``dialect="mlflow"`` without an
            ``x-mlflow-experiment-id`` header or with gRPC, unless ``mlflow_trace_info`` says
            where MLflow is or is ``False``.
        ImportError: ``protocol="grpc"`` without the gRPC exporter (``genai-trace[grpc]``).
            When gRPC was chosen by ``OTEL_EXPORTER_OTLP_*PROTOCOL`` instead, one warning is
            logged and this exporter sends nothing, so tracing to other destinations goes on.
    """

    reports_own_failures = False
    """True when it cannot send at all: it warned once, the pipeline need not warn again."""
    releases_views = True
    """It lets each trace's views go as soon as the trace is bytes (:func:`views_read`)."""
    max_batch = 512
    """Traces per request, the official batch processor's spans per request: each request
    costs the HTTP client a fixed share of CPU that more traces per request spread."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        dialect: str | Dialect = "default",
        service_name: str | None = None,
        project_name: str | None = None,
        resource: Resource | None = None,
        timeout_s: float = 10.0,
        mlflow_trace_info: bool | str = True,
        phoenix_annotations: bool | str = True,
    ) -> None:
        from_env = protocol is None
        protocol = protocol or _env_protocol()
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        self.protocol = protocol
        self.dialect = get_dialect(dialect)
        self.endpoint = endpoint
        self.service_name = service_name
        self.project_name = project_name
        self.name = f"OTLP {endpoint or 'from OTEL_EXPORTER_OTLP_*'}"
        self._explicit_resource = resource
        # Guards the resource resolved from what the runtime handed over (use_runtime_resource).
        self._resource_lock = threading.Lock()
        self._runtime_resource: tuple[Resource, str | None] | None = None
        self._resource: Resource | None = None
        self._settings = (protocol, endpoint, headers, timeout_s, mlflow_trace_info)
        self._phoenix_setting = phoenix_annotations
        self._exporter: Any = None
        self._mlflow: _MlflowTraceInfo | None = None
        self._feedback_apis: list[PhoenixAnnotations | MlflowAssessments] = []
        self._held = HeldFeedback()
        self.feedback_lost = 0
        """Feedback that could not be sent: named by a client request id this process never
        saw, or held for a trace that never came through this exporter."""
        try:
            self._connect()
        except _GrpcMissing:
            if not from_env:
                raise
            warn_once(
                "otlp grpc missing", "genai_trace: %s; traces are not sent over OTLP", GRPC_MISSING
            )
            self.reports_own_failures = True

    def _connect(self) -> None:
        protocol, endpoint, headers, timeout_s, mlflow_trace_info = self._settings
        self._exporter = _span_exporter(protocol, endpoint, headers, timeout_s)
        if self.dialect is mlflow_dialect.span_attributes and mlflow_trace_info is not False:
            self._mlflow = _MlflowTraceInfo.create(
                protocol, endpoint, _resolve_headers(headers), timeout_s, mlflow_trace_info
            )
        self._feedback_apis = self._feedback_targets()

    def _feedback_targets(self) -> list[PhoenixAnnotations | MlflowAssessments]:
        """The backend APIs that record feedback natively, besides the OTLP event."""
        protocol, endpoint, headers, timeout_s, _ = self._settings
        if self._mlflow is not None:
            base = self._mlflow.url.removesuffix(mlflow_dialect.START_TRACE_PATH)
            return [MlflowAssessments(base, _resolve_headers(headers), timeout_s)]
        where = self._phoenix_setting
        if self.dialect is not default_dialect.span_attributes or where is False:
            return []
        if isinstance(where, str):
            base = where
        elif protocol == "grpc":
            return []  # no HTTP server known: a URL must say where Phoenix is
        else:
            base = _origin(endpoint or _env_endpoint() or _DEFAULT_HTTP_ENDPOINT)
        return [PhoenixAnnotations(base, _resolve_headers(headers), timeout_s)]

    def after_fork_in_child(self) -> None:
        """In a forked child: new connections, never the parent's sockets.

        A pooled keep-alive connection inherited from the parent is the parent's: writing
        to it from the child would interleave two processes' requests on one stream. The
        parent's objects are left untouched (closing them here could disturb the parent).
        """
        _ABANDONED.append((self._exporter, self._mlflow, self._feedback_apis))
        self._resource_lock = threading.Lock()
        self._exporter = self._mlflow = None  # reconnected at the child's first export
        self._feedback_apis = []
        self._held = HeldFeedback()  # the parent's are the parent's to send

    def use_runtime_resource(self, resource: Resource, project_name: str | None) -> None:
        """Take the resource of the provider and the project of the configuration in force.

        Called by the runtime on each exporter it is configured with (an optional part of
        the exporter contract); what this exporter was given itself wins.
        """
        with self._resource_lock:
            self._runtime_resource = (resource, project_name)
            self._resource = None

    @property
    def resource(self) -> Resource:
        """The resource sent with the spans (resolved against what the runtime handed over)."""
        with self._resource_lock:
            if self._resource is None:
                self._resource = self._resolve_resource(self._runtime_resource)
            return self._resource

    def _resolve_resource(self, given: tuple[Resource, str | None] | None) -> Resource:
        runtime_resource, runtime_project = given if given is not None else (None, None)
        if self._explicit_resource is not None:
            base = self._explicit_resource
        elif runtime_resource is not None:
            base = runtime_resource
        else:
            base = Resource.create({})
        overrides: dict[str, str] = {}
        if self.service_name:
            overrides[SERVICE_NAME] = self.service_name
        project = self.project_name or runtime_project
        if project:
            overrides[PROJECT_NAME] = project
        return base.merge(Resource(overrides)) if overrides else base

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Send every span of ``traces`` in one request; with MLflow, then each trace's info."""
        resource = self.resource
        client = None
        if not self.reports_own_failures:
            if self._exporter is None:
                self._connect()
            client = _wire_client(self._exporter)
        # Written from the spans' views, never their records, where the dialect allows it.
        from_views = client is not None and self.dialect is default_dialect.span_attributes
        # With our own wire client each trace is bytes at once, and its views go (the other
        # destinations' reads aside): the batch is not held whole until the request.
        request = RequestWriter(record_scope) if client is not None else None
        spans: list[SpanWithAttributes] = []
        converted: list[Trace] = []
        for trace in traces:
            try:
                sent = _from_views(trace) if from_views else None
                if sent is None:
                    rebuilt = to_otel_spans(trace, self.dialect(trace), resource)
                    sent = [(span, None) for span in rebuilt]
                if request is not None:
                    request.add(sent)
                else:
                    spans.extend(sent)
                converted.append(trace)
            except Exception:
                log_internal_error("OTLP conversion")
            finally:
                views_read(trace)
        if not (request.spans if request is not None else spans):
            return ExportResult.SUCCESS if len(converted) == len(traces) else ExportResult.FAILURE
        if self.reports_own_failures:
            return ExportResult.FAILURE
        if request is not None:
            sent_all = self._send_request(lambda: request.finish(resource), client)
        else:
            sent_all = self._send(spans, resource, client)
        if not sent_all:
            return ExportResult.FAILURE
        if self._mlflow is not None and not self._mlflow.send(converted):
            return ExportResult.FAILURE
        if self._held.count:  # feedback logged while these traces were open: sent now
            released = self._held.release([_trace_id(trace) for trace in converted])
            self._post_feedback(released)
        return ExportResult.SUCCESS if len(converted) == len(traces) else ExportResult.FAILURE

    def export_feedback(self, deliveries: Sequence[FeedbackDelivery]) -> ExportResult:
        """Send feedback on traces already sent as small spans; record it in the backend's API.

        A feedback logged while its trace was open left with the trace (its event is on
        the live span); its API call waits until this exporter has sent that trace.
        """
        if self.reports_own_failures:
            return ExportResult.FAILURE
        if self._exporter is None:
            self._connect()
        known = [d for d in deliveries if d.trace_id is not None]
        for delivery in deliveries:
            if delivery.trace_id is None:
                self.feedback_lost += 1
                warn_unknown_trace(self.name, delivery)
        resource = self.resource
        spans: list[SpanWithAttributes] = [
            (feedback_span(d, resource), None) for d in known if not d.on_live_span
        ]
        sent = not spans or self._send(spans, resource, _wire_client(self._exporter))
        refused = self._post_feedback(self._held.split(known))
        # One named by an unknown client request id is counted in feedback_lost, not here.
        return ExportResult.SUCCESS if sent and not refused else ExportResult.FAILURE

    def _post_feedback(self, deliveries: Sequence[FeedbackDelivery]) -> int:
        refused = 0
        for api in self._feedback_apis:
            refused += api.post(deliveries)
        return refused

    def _send(self, spans: list[SpanWithAttributes], resource: Resource, client: Any) -> bool:
        if client is not None:
            return self._send_request(lambda: encode_request(resource, spans, record_scope), client)
        try:  # gRPC, or an HTTP exporter whose client we do not know
            plain = [span for span, _ in spans]  # rebuilt spans: attributes their own
            return bool(self._exporter.export(plain) is SpanExportResult.SUCCESS)
        except Exception as exc:
            _SEND_FAILED.record(1, self.name, _one_line(exc))
            return False

    def _send_request(self, encode: Callable[[], bytes], client: Any) -> bool:
        """Post one request with our wire client; ``encode`` makes its bytes."""
        try:
            data = encode()
            limit = _max_request_size(self._exporter)
            if 0 < limit < len(data):  # the official exporter drops such a batch, logged
                _SEND_FAILED.record(1, self.name, f"{len(data)} bytes > max_request_size")
                return False
            return bool(client.export(data).success)
        except Exception as exc:  # OTel before 1.40 raised a dead endpoint's ConnectionError
            _SEND_FAILED.record(1, self.name, _one_line(exc))
            return False

    def shutdown(self) -> None:
        """Close the connections."""
        never_sent = self._held.take_all()
        if never_sent:  # the trace did not come through here (sampled out, or still open)
            self.feedback_lost += len(never_sent)
        for api in self._feedback_apis:
            api.close()
        if self._exporter is not None:
            self._exporter.shutdown()
        if self._mlflow is not None:
            self._mlflow.close()


def _trace_id(trace: Trace) -> str:
    """The trace's id without building its records (a runtime trace reads its views)."""
    view_info = getattr(trace, "view_info", None)
    return str(view_info().trace_id if view_info is not None else trace.info.trace_id)


def _from_views(trace: Trace) -> list[SpanWithAttributes] | None:
    """The default dialect's spans of ``trace`` straight from its views, records unbuilt.

    ``None`` when the trace has no views (a merge) or a span must go through its record:
    the bytes written either way are the same (``tests/exporters/test_otlp_views.py``).
    """
    span_views = getattr(trace, "span_views", None)  # a runtime DeferredTrace's
    views = span_views() if span_views is not None else None
    if not views or not all(sent_as_rebuilt(view.span) for view in views):
        return None
    attributes = default_dialect.view_attributes(views, trace.view_info())  # type: ignore[attr-defined]
    if attributes is None:
        return None
    return [(view.span, sent) for view, sent in zip(views, attributes, strict=True)]


class _MlflowTraceInfo:
    """Posts trace infos to MLflow's StartTraceV3 endpoint, one request per trace."""

    def __init__(
        self, url: str, experiment_id: str, headers: Mapping[str, str], timeout_s: float
    ) -> None:
        import requests  # a dependency of the OTLP/HTTP exporter

        self.url = url
        self.experiment_id = experiment_id
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers.update(headers)

    @classmethod
    def create(
        cls,
        protocol: str,
        endpoint: str | None,
        headers: Mapping[str, str],
        timeout_s: float,
        where: bool | str,
    ) -> _MlflowTraceInfo:
        experiment_id = next(
            (v for k, v in headers.items() if k.lower() == mlflow_dialect.EXPERIMENT_ID_HEADER),
            None,
        )
        if experiment_id is None:
            raise ValueError(
                "dialect='mlflow' needs the MLflow experiment: pass "
                "headers={'x-mlflow-experiment-id': '<id>'} (or set it in "
                "OTEL_EXPORTER_OTLP_HEADERS), or mlflow_trace_info=False to send spans only"
            )
        if isinstance(where, str):
            base = where
        elif protocol == "grpc":
            raise ValueError(
                "MLflow takes OTLP over HTTP only; with gRPC (to a collector) pass "
                "mlflow_trace_info='http://<mlflow host>:<port>' or mlflow_trace_info=False"
            )
        else:
            base = _origin(endpoint or _env_endpoint() or _DEFAULT_HTTP_ENDPOINT)
        url = base.rstrip("/") + mlflow_dialect.START_TRACE_PATH
        return cls(url, experiment_id, headers, timeout_s)

    def send(self, traces: Sequence[Trace]) -> bool:
        """Record each trace's info; ``False`` (after one warning) when any call failed."""
        ok = True
        for trace in traces:
            body = mlflow_dialect.start_trace_request(trace, self.experiment_id)
            try:
                response = self._session.post(self.url, json=body, timeout=self.timeout_s)
                with response:
                    failed = response.status_code >= 300
                    detail = f"HTTP {response.status_code}: {response.text[:300]}"
            except Exception as exc:  # a network error must not leave the worker
                failed, detail = True, repr(exc)
            if failed:
                ok = False
                warn_once(
                    f"mlflow trace info {self.url}",
                    "genai_trace: MLflow did not record the trace info (previews, tags, "
                    "metadata) at %s: %s",
                    self.url,
                    detail,
                )
        return ok

    def close(self) -> None:
        self._session.close()


class _GrpcMissing(ImportError):
    """The gRPC exporter (or grpcio) is not installed."""


# The parent's clients, inherited by a forked child: kept referenced so that garbage
# collection never closes the parent's connections from the child.
_ABANDONED: list[object] = []


def _env_protocol() -> str:
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )


def _env_endpoint() -> str | None:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def _resolve_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if headers is not None:
        return dict(headers)
    raw = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get(
        "OTEL_EXPORTER_OTLP_HEADERS", ""
    )
    return dict(parse_env_headers(raw, liberal=True))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def _origin(url: str) -> str:
    """``scheme://host:port`` plus any path before ``/v1/traces``."""
    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    path = parts.path.rstrip("/").removesuffix("/v1/traces")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _wire_client(exporter: Any) -> Any:
    """The official HTTP exporter's sender of serialized requests, if it is the one we know.

    ``OTLPSpanExporter.export`` is ``encode_spans`` followed by ``_client.export(bytes)``
    (opentelemetry-exporter-otlp-proto-http 1.45); bytes written by ``_otlp_wire`` go
    straight to that client. Any other shape (or a shut-down exporter, which must refuse
    as the official one does) takes the official path.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if type(exporter) is not OTLPSpanExporter or getattr(exporter, "_shutdown", True):
        return None
    client = getattr(exporter, "_client", None)
    return client if callable(getattr(client, "export", None)) else None


def _max_request_size(exporter: Any) -> int:
    """The official exporter's ``max_request_size`` (0: no limit)."""
    limit = getattr(exporter, "_max_request_size", 0)
    return limit if isinstance(limit, int) else 0


def _span_exporter(
    protocol: str, endpoint: str | None, headers: Mapping[str, str] | None, timeout_s: float
) -> Any:
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError as exc:  # an extra: only gRPC users need grpcio
            raise _GrpcMissing(GRPC_MISSING) from exc
        # The OTel exporter reads the scheme: http:// is plaintext, https:// or none is TLS
        # (unless OTEL_EXPORTER_OTLP_INSECURE=true).
        return GrpcSpanExporter(
            endpoint=endpoint, headers=dict(headers) if headers else None, timeout=timeout_s
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(
        endpoint=endpoint, headers=dict(headers) if headers else None, timeout=timeout_s
    )
