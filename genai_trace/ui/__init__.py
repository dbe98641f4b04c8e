"""The local trace viewer: ``genai-trace ui`` serves the store as a web page on 127.0.0.1.

A Traces page (the Request and Response previews, filters, keyset paging, live updates), a
trace view (a waterfall of spans; each span's inputs, outputs, attributes, events and token
usage) and a session view, from static files shipped in the package: nothing to build,
nothing fetched from outside the machine. The server reads the store read-only; with
``allow_feedback`` it also records a person's thumbs up or down (see ``_feedback``).

Example:
    >>> from genai_trace.store import SQLiteTraceStore
    >>> from genai_trace.ui import start_server
    >>> viewer = start_server(SQLiteTraceStore(".genai_trace/traces.db"))
    >>> print(viewer.url)  # http://127.0.0.1:<a free port>/
    >>> viewer.stop()
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
import webbrowser
from pathlib import Path
from typing import NamedTuple, TextIO

from genai_trace.store.reader import TraceReader
from genai_trace.ui._feedback import ViewerFeedback
from genai_trace.ui._server import ViewerServer

__all__ = ["RunningViewer", "serve", "start_server"]

_BUSY_TIMEOUT_S = 5.0  # a page waits this long for a writer of another process


class RunningViewer(NamedTuple):
    """A viewer serving on a background thread (see :func:`start_server`)."""

    server: ViewerServer
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def serve(
    store: TraceReader | str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 6007,
    allow_remote: bool = False,
    open_browser: bool = False,
    out: TextIO | None = None,
    allow_feedback: bool = False,
) -> int:
    """Serve the viewer of ``store`` until Ctrl-C; print its URL on ``out``.

    Args:
        store: the local store (or its path); it need not exist yet, the page fills in as
            traces arrive.
        host: the interface to bind. Anything but a loopback address needs ``allow_remote``.
        port: the port; ``0`` picks a free one (the URL printed has the real one).
        allow_remote: allow a non-loopback ``host``. The viewer has no authentication: anyone
            who reaches the port reads every prompt and response in the store.
        open_browser: open the URL in the default web browser.
        out: where the URL goes (standard output by default); warnings go to standard error.
        allow_feedback: let the page record a thumbs up or down and a comment on a trace
            (written to the store); read-only otherwise.

    Returns:
        ``0`` once stopped with Ctrl-C.

    Raises:
        ValueError: a remote ``host`` without ``allow_remote``, a bad port, or a port that
            cannot be bound (in use, not permitted).
    """
    out = out if out is not None else sys.stdout
    server = _make_server(store, host, port, allow_remote, allow_feedback)
    url = _url(host, server.port)
    if not _is_loopback(host):
        print(
            f"genai-trace ui: WARNING: serving on {host}, not 127.0.0.1: anyone who can reach "
            f"port {server.port} reads every trace in the store (no authentication)",
            file=sys.stderr,
        )
    print(f"genai-trace ui: serving {server.reader.path} at {url}", file=out)
    if not server.reader.exists():
        print("genai-trace ui: no traces there yet; the page fills in as they arrive", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def start_server(
    store: TraceReader | str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    allow_feedback: bool = False,
) -> RunningViewer:
    """Serve the viewer on a background thread; for tests and notebooks.

    Example:
        >>> viewer = start_server(".genai_trace/traces.db")
        >>> server, thread, url = viewer
        >>> viewer.stop()

    Raises:
        ValueError: as :func:`serve`.
    """
    server = _make_server(store, host, port, allow_remote, allow_feedback)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="genai-trace-ui",
        daemon=True,
    )
    thread.start()
    return RunningViewer(server, thread, _url(host, server.port))


def _make_server(
    store: TraceReader | str | os.PathLike[str],
    host: str,
    port: int,
    allow_remote: bool,
    allow_feedback: bool = False,
) -> ViewerServer:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port must be 0 (any free port) to 65535, got {port!r}")
    if not host:
        raise ValueError("host must be an interface address such as 127.0.0.1")
    if not _is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to serve on {host}: the viewer has no authentication and shows every "
            "prompt and response in the store; bind 127.0.0.1 (the default), or pass "
            "--allow-remote (allow_remote=True) if you mean it"
        )
    path = store.path if isinstance(store, TraceReader) else Path(store)
    bind = host.strip("[]")
    try:
        return ViewerServer(
            (bind, port),
            TraceReader(path, busy_timeout_s=_BUSY_TIMEOUT_S),
            check_host=_is_loopback(host),
            feedback=ViewerFeedback(path) if allow_feedback else None,
        )
    except OSError as exc:
        raise ValueError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(choose another port with --port, or --port 0 for any free one)"
        ) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    shown = host.strip("[]")
    if shown in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"
