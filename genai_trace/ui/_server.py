"""The viewer's HTTP server: static files and a small read-only JSON API (stdlib only).

Routes (``GET`` and ``HEAD``; any other method is 405, but for the one feedback ``POST``):

- ``/`` the page; ``/static/<file>`` its scripts, styles and icon (shipped in the package)
- ``/api/traces`` a page of traces, newest first or in ``order`` (``duration DESC``...;
  filters, ``limit``, ``before`` cursor)
- ``/api/traces/changes`` traces stored after ``after_seq`` (the page polls it)
- ``/api/traces/<id>`` one whole trace, by trace id or client request id
- ``/api/sessions`` recent sessions; ``/api/sessions/<id>`` one session's traces in order
- ``/api/stats`` counts by state, span type and name
- ``/api/config`` whether feedback is allowed, and the page's CSRF token if it is
- ``POST /api/traces/<id>/feedback`` a thumbs up or down and a comment, only with
  ``--allow-feedback`` (see :mod:`~genai_trace.ui._feedback`)
- ``/api/usage`` cost, tokens and p95 latency per model over time (``since_s``, ``buckets``)

Errors are JSON ``{"error": "..."}``: 400 for a bad parameter, 404 for an unknown id or path,
405 for a method, 503 when the store cannot be read; an unexpected failure is a generic 500,
logged on the server and never sent to the page.
"""

from __future__ import annotations

import json
import logging
import math
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from genai_trace.store.reader import TraceReader
from genai_trace.store.schema import TraceStoreError
from genai_trace.store.usage import usage_over_time
from genai_trace.ui import _params as params
from genai_trace.ui._feedback import MAX_BODY_BYTES, ViewerFeedback
from genai_trace.ui._params import BadRequestError, Query

logger = logging.getLogger("genai_trace.ui")

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_PAGE_LIMIT = (50, 1, 500)  # default, min, max
_CHANGES_LIMIT = (100, 1, 500)
_SESSION_LIMIT = (500, 1, 5000)


def load_assets() -> dict[str, tuple[bytes, str]]:
    """Every file of ``static/``, read once: ``{name: (body, content type)}``."""
    assets: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("genai_trace.ui").joinpath("static")
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _CONTENT_TYPES:
            assets[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    return assets


class ViewerServer(ThreadingHTTPServer):
    """A threading HTTP server that holds the store reader and the page's files."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        reader: TraceReader,
        *,
        check_host: bool,
        feedback: ViewerFeedback | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.reader = reader
        self.assets = load_assets()
        self.check_host = check_host
        """Refuse requests whose ``Host`` is not this loopback address (DNS rebinding)."""
        self.feedback = feedback
        """Set with ``--allow-feedback``: the one write the viewer may make."""

    def server_close(self) -> None:
        """Close the socket, and the feedback writer's connection."""
        super().server_close()
        feedback = getattr(self, "feedback", None)  # a bind that failed closes before it is set
        if feedback is not None:
            feedback.close()

    @property
    def port(self) -> int:
        """The port actually bound (the one picked when asked for port 0)."""
        return int(self.server_address[1])

    def allowed_hosts(self) -> set[str]:
        """``Host`` header values a page served from this loopback address sends."""
        port = self.port
        bound = str(self.server_address[0])
        bound = f"[{bound}]" if ":" in bound else bound
        return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{bound}:{port}"}


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        """The ``Server`` header: no Python version on display."""
        return "genai-trace-ui"

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _refuse_method(self) -> None:
        self.close_connection = True  # the body, if any, is not read
        self._send_json(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": f"method {self.command} not allowed: the viewer is read-only"},
            head=False,
            extra={"Allow": "GET, HEAD"},
        )

    def do_POST(self) -> None:
        if self.server.feedback is None:
            self._refuse_method()
            return
        try:
            self._post_feedback(self.server.feedback)
        except BadRequestError as exc:
            self.close_connection = True  # the body may be unread
            self._send_json(exc.status, {"error": str(exc)}, head=False)
        except TraceStoreError as exc:
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)}, head=False)
        except Exception:
            logger.exception("genai-trace ui: error serving POST %s", self.path)
            self._send_json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "internal error; the server's log has the details"},
                head=False,
            )

    def _post_feedback(self, feedback: ViewerFeedback) -> None:
        segments = [unquote(s) for s in urlsplit(self.path).path.split("/")]
        if len(segments) != 5 or segments[:3] != ["", "api", "traces"] or segments[4] != "feedback":
            raise BadRequestError("POST only to /api/traces/<id>/feedback", 404)
        feedback.check(self.headers, self.server.allowed_hosts())
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY_BYTES:
            raise BadRequestError(f"send a JSON body of at most {MAX_BODY_BYTES} bytes", 413)
        body = self.rfile.read(length)
        reader = self.server.reader
        trace_id = params.identifier(segments[3], "trace id")
        found = reader.get(trace_id) if reader.exists() else None
        if found is None:
            raise BadRequestError(f"no trace {trace_id[:100]!r} in the store", 404)
        recorded = feedback.record(found.info.trace_id, body)
        self._send_json(HTTPStatus.OK, {"feedback": recorded.to_dict()}, head=False)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log, not to standard error."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)

    def _respond(self, *, head: bool) -> None:
        try:
            self._route(head)
        except BadRequestError as exc:
            self._send_json(exc.status, {"error": str(exc)}, head=head)
        except TraceStoreError as exc:
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)}, head=head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            logger.exception("genai-trace ui: error serving %s", self.path)
            self._send_json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "internal error; the server's log has the details"},
                head=head,
            )

    def _route(self, head: bool) -> None:
        host = self.headers.get("Host")
        if self.server.check_host and host is not None and host not in self.server.allowed_hosts():
            raise BadRequestError(
                f"unexpected Host header; open http://127.0.0.1:{self.server.port}/", 403
            )
        url = urlsplit(self.path)
        try:
            query: Query = parse_qs(url.query, keep_blank_values=True, max_num_fields=100)
        except ValueError as exc:
            raise BadRequestError(f"bad query string: {exc}") from None
        path = url.path
        if path in ("/", "/index.html"):
            self._send_asset("index.html", head)
        elif path.startswith("/static/"):
            self._send_asset(unquote(path[len("/static/") :]), head)
        elif path == "/api" or path.startswith("/api/"):
            segments = [unquote(s) for s in path[len("/api/") :].split("/")]
            self._send_json(HTTPStatus.OK, self._api(segments, query), head=head)
        else:
            raise BadRequestError(f"no page at {path[:100]!r}; the viewer is at /", 404)

    def _api(self, segments: list[str], query: Query) -> dict[str, Any]:
        reader = self.server.reader
        match segments:
            case ["traces"]:
                params.check_known(query, (*params.FILTER_PARAMS, "limit", "before", "order"))
                ordered = params.ordered(query, params.filters(query))
                return reader.page(
                    ordered,
                    params.integer(query, "limit", *_PAGE_LIMIT),
                    params.page_cursor(query, "before", ordered),
                )
            case ["traces", "changes"]:
                params.check_known(query, (*params.FILTER_PARAMS, "after_seq", "limit"))
                return reader.changes(
                    params.filters(query),
                    params.integer(query, "after_seq", 0, 0),
                    params.integer(query, "limit", *_CHANGES_LIMIT),
                )
            case ["traces", trace_id]:
                params.check_known(query, ())
                trace_id = params.identifier(trace_id, "trace id")
                found = reader.get(trace_id) if reader.exists() else None
                if found is None:
                    raise BadRequestError(f"no trace {trace_id[:100]!r} in the store", 404)
                return found.to_dict()
            case ["sessions"]:
                params.check_known(query, ("limit", "user"))
                return reader.sessions(
                    params.integer(query, "limit", 100, 1, 1000), params.text(query, "user")
                )
            case ["sessions", session_id]:
                params.check_known(query, ("limit",))
                session = reader.session(
                    params.identifier(session_id, "session id"),
                    params.integer(query, "limit", *_SESSION_LIMIT),
                )
                if session is None:
                    raise BadRequestError(f"no session {session_id[:100]!r} in the store", 404)
                return session
            case ["config"]:
                params.check_known(query, ())
                feedback = self.server.feedback
                return {
                    "allow_feedback": feedback is not None,
                    "csrf_token": None if feedback is None else feedback.token,
                }
            case ["usage"]:
                params.check_known(query, ("since_s", "buckets"))
                since_s = params.integer(query, "since_s", 86_400, 60, 400 * 86_400)
                buckets = params.integer(query, "buckets", 24, 1, 500)
                if not reader.exists():
                    return usage_over_time_empty()
                return usage_over_time(reader, since_s, buckets)
            case ["stats"]:
                params.check_known(query, ())
                data = _stats(reader)
                data["store"] = str(reader.path)
                return data
        raise BadRequestError(f"no API endpoint /api/{'/'.join(segments)[:100]}", 404)

    def _send_asset(self, name: str, head: bool) -> None:
        asset = self.server.assets.get(name)
        if asset is None:
            raise BadRequestError(f"no file {name[:100]!r}", 404)
        body, content_type = asset
        self._send(HTTPStatus.OK, body, content_type, head, {"Cache-Control": "no-cache"})

    def _send_json(
        self,
        status: int,
        payload: dict[str, Any],
        *,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        body = _to_json(payload).encode()
        headers = {"Cache-Control": "no-store", **(extra or {})}
        self._send(status, body, "application/json; charset=utf-8", head, headers)

    def _send(
        self, status: int, body: bytes, content_type: str, head: bool, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**_SECURITY_HEADERS, **headers}.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)


def usage_over_time_empty() -> dict[str, Any]:
    """What ``/api/usage`` answers before the store exists: nothing in any slice."""
    return {"bucket_s": None, "times": [], "series": {}, "models": []}


def _stats(reader: TraceReader) -> dict[str, Any]:
    if not reader.exists():
        return {"traces": 0, "spans": 0, "by_state": {}, "top_names": []}
    try:
        return reader.stats()
    except OSError as exc:  # the file went away between the read and its size
        raise TraceStoreError(str(exc)) from exc


def _to_json(payload: Any) -> str:
    """Strict JSON (a page's ``JSON.parse`` refuses ``NaN``): non-finite numbers as text."""
    try:
        return json.dumps(payload, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(payload), ensure_ascii=False, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
