"""``genai-trace``: read the local trace store from the command line.

``list``, ``show``, ``feedback``, ``tail``, ``export``, ``send``, ``stats``, ``ui`` and
``prune``; ``tag`` and ``rm`` edit it. ``--db`` or ``GENAI_TRACE_DB`` chooses the store
(default ``.genai_trace/traces.db`` under the working directory).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import shutil
import socket
import sys
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any, TextIO, get_args

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import safe_repr
from genai_trace._semantics.codec import dumps
from genai_trace._semantics.feedback import Source, parse_value, render_feedback
from genai_trace._semantics.model import TraceInfo, TraceState, info_to_dict
from genai_trace._semantics.render import format_duration, format_time, one_line, render_trace
from genai_trace.store.reader import ORDER_BY, TraceQuery, TraceReader
from genai_trace.store.schema import DEFAULT_DB_PATH, TraceStoreError
from genai_trace.store.usage import GROUPINGS, format_usage_table, usage_summary

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STATES = get_args(TraceState)
_MAX_INT = 2**63 - 1
# One OTLP request per batch: 5,000 traces were 5,000 requests before.
_SEND_BATCH_TRACES = 256
_SEND_BATCH_SPANS = 4096
_PROGRESS_FROM = 100  # fewer traces finish before a progress line would help
_ELLIPSIS = "\u2026"


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 1 or 2."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 1 not found, 2 usage or store)."""
    parser = _parser()
    args = parser.parse_args(argv)
    store = TraceReader(args.db or os.environ.get("GENAI_TRACE_DB") or DEFAULT_DB_PATH)
    store.choose_with = "--db or GENAI_TRACE_DB"
    out: TextIO = sys.stdout
    try:
        if store.path.is_dir():
            raise CliError(f"the trace store {store.path} is a directory: name a file", 2)
        status: int = args.run(store, args, out)
        return status
    except TraceStoreError as exc:
        print(f"genai-trace: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"genai-trace: {exc}", file=sys.stderr)
        return exc.status
    except BrokenPipeError:  # `genai-trace list | head`
        return 0
    except KeyboardInterrupt:
        return 130


# --- commands ------------------------------------------------------------------------


def _cmd_list(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    rows = store.search(_query(args))
    if args.json:
        for info in rows:
            out.write(dumps(info_to_dict(info), default=safe_repr) + "\n")
        return 0
    width = shutil.get_terminal_size((160, 24)).columns if out.isatty() else 160
    out.write(_table(rows, width) + "\n")
    return 0


def _cmd_show(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    if args.last == (args.trace_id is not None):
        raise CliError("give a trace id or --last (one of the two)", 2)
    trace_id = store.last_trace_id() if args.last else args.trace_id
    if trace_id is None:
        raise CliError("the store is empty")
    trace = store.get(trace_id)
    if trace is None:
        raise CliError(f"no trace {trace_id!r} in {store.path} (ids are 32 hex digits)")
    if args.json:
        out.write(trace.to_json(indent=2) + "\n")
        return 0
    color = _color(args, out)
    lines = render_trace(trace, color=color, show_io=not args.no_io, io_chars=args.width)
    lines.extend(render_feedback(trace.feedback))
    out.write("\n".join(lines) + "\n")
    return 0


def _cmd_feedback(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    """Log a feedback through the library's own path (the store's exporter), then report."""
    import genai_trace
    from genai_trace.store.writer import SQLiteTraceStore

    trace = store.get(args.trace_id)
    if trace is None:
        raise CliError(f"no trace {args.trace_id!r} in {store.path}")
    try:
        source = Source.parse(args.source)
        value: Any = parse_value(args.value)  # a list is refused by log_feedback, with why
        writer = SQLiteTraceStore(store.path, retention=None, feedback_wait_s=0)
        genai_trace.configure(exporters=[writer])
        log = genai_trace.log_expectation if args.expectation else genai_trace.log_feedback
        feedback = log(trace.info.trace_id, args.name, value, span_id=args.span,
                       rationale=args.rationale, source=source)  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc), 2) from None
    genai_trace.shutdown(30)
    if writer.feedback.stored != 1:
        raise CliError(f"the feedback was not stored in {store.path} (see the warning above)")
    out.write("\n".join(render_feedback([feedback])[1:]).strip() + f"  [{feedback.feedback_id}]\n")
    return 0


def _cmd_tail(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    last_seq = 0
    if store.path.exists():
        # The newest seq, even with --initial 0: only traces stored from now on are new.
        recent = store.search_with_seq(TraceQuery(limit=max(args.initial, 1)))
        last_seq = max((seq for seq, _ in recent), default=0)
        recent = recent[: args.initial]
        for _, info in reversed(recent):
            out.write(_tail_line(info) + "\n")
        out.flush()
    else:  # every trace of a store that appears while we wait is new
        while not _ready(store):
            if deadline is not None and time.monotonic() > deadline:
                raise CliError(f"no trace store appeared at {store.path}", 2)
            time.sleep(args.interval)
    shown = 0
    while args.count is None or shown < args.count:
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(args.interval)
        fresh = store.search_with_seq(
            TraceQuery(after_seq=last_seq, order_by="start_time", descending=False, limit=1000)
        )
        for seq, info in sorted(fresh, key=lambda pair: pair[0]):
            if args.count is not None and shown >= args.count:
                break
            last_seq = max(last_seq, seq)
            out.write(_tail_line(info) + "\n")
            shown += 1
        out.flush()
    return 0


def _cmd_export(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    infos = store.search(_query(args))
    # The progress line shares a terminal with the output only when both go to it.
    progress = _Progress("exporting", len(infos) if args.output or not out.isatty() else 0)
    try:
        if not args.output:
            _write_export(store, infos, args.format, out, progress)
            return 0
        try:
            with open(args.output, "w", encoding="utf-8") as target:
                _write_export(store, infos, args.format, target, progress)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    finally:
        progress.close()
    return 0


def _write_export(
    store: TraceReader,
    infos: list[TraceInfo],
    export_format: str,
    target: TextIO,
    progress: _Progress,
) -> None:
    if export_format == "jsonl":
        for batch in _batches(infos):
            for trace in store.get_many([info.trace_id for info in batch]):
                target.write(trace.to_json() + "\n")
            progress.advance(len(batch))
    else:
        from genai_trace.exporters.otlp_json import traces_to_otlp_json

        traces = []
        for batch in _batches(infos):
            traces.extend(store.get_many([info.trace_id for info in batch]))
            progress.advance(len(batch))
        target.write(dumps(traces_to_otlp_json(traces), default=safe_repr) + "\n")


def _cmd_send(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    from genai_trace.exporters import ExportResult
    from genai_trace.exporters.otlp import OTLPTraceExporter

    headers = dict(_header(h) for h in args.header)
    _check_endpoint(args.endpoint, args.protocol)
    try:
        exporter = OTLPTraceExporter(
            args.endpoint, protocol=args.protocol, headers=headers, dialect=args.dialect
        )
    except (ValueError, ImportError) as exc:
        raise CliError(str(exc), 2) from None
    _check_reachable(args.endpoint, args.protocol)
    infos = store.search(_query(args))
    sent = 0
    progress = _Progress("sending", len(infos))
    try:
        for batch in _batches(infos):
            traces = store.get_many([info.trace_id for info in batch])  # one read each
            if traces and exporter.export(traces) is not ExportResult.SUCCESS:
                raise CliError(
                    f"the backend at {args.endpoint} did not accept a batch of {len(traces)} "
                    f"traces, the first {batch[0].trace_id} ({sent} sent before it)"
                )
            sent += len(traces)
            progress.advance(len(batch))
    finally:
        progress.close()
        exporter.shutdown()
    out.write(f"sent {sent} trace(s) to {args.endpoint}\n")
    return 0


def _batches(infos: list[TraceInfo]) -> Iterator[list[TraceInfo]]:
    """Traces in groups for one request each, bounded in traces and in spans."""
    batch: list[TraceInfo] = []
    spans = 0
    for info in infos:
        if batch and (len(batch) >= _SEND_BATCH_TRACES or spans >= _SEND_BATCH_SPANS):
            yield batch
            batch, spans = [], 0
        batch.append(info)
        spans += info.span_count
    if batch:
        yield batch


class _Progress:
    """``verb n/total traces`` on one stderr line, only when stderr is a terminal."""

    def __init__(self, verb: str, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.verb = verb
        self.total = total
        self.done = 0
        self.shown_at = 0.0
        self.enabled = total >= _PROGRESS_FROM and self.stream.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self.shown_at >= 0.1 or self.done >= self.total):
            self.shown_at = now
            self.stream.write(f"\rgenai-trace: {self.verb} {self.done}/{self.total} traces")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.shown_at:
            self.stream.write("\r\033[K")  # clear the line: the result line follows
            self.stream.flush()


def _cmd_stats(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    if args.by is not None:
        return _usage_stats(store, args, out)
    stats = store.stats()
    if args.json:
        out.write(dumps(stats, default=safe_repr, indent=2) + "\n")
        return 0
    lines = [
        f"store:      {store.path} ({stats['file_bytes'] / 1e6:.1f} MB)",
        f"traces:     {stats['traces']} ({stats['incomplete']} incomplete), "
        f"spans: {stats['spans']}",
        "by state:   " + ", ".join(f"{k} {v}" for k, v in sorted(stats["by_state"].items())),
        f"tokens:     {stats['total_tokens']}",
        f"mean time:  {format_duration(stats['mean_duration_ms'])}",
    ]
    if stats["first_start_ns"] is not None:
        lines.append(
            f"time range: {format_time(stats['first_start_ns'])} .. "
            f"{format_time(stats['last_start_ns'])}"
        )
    lines.append(
        "span types: " + ", ".join(f"{k} {v}" for k, v in sorted(stats["by_span_type"].items()))
    )
    lines.append("top names:  " + ", ".join(f"{n} {c}" for n, c in stats["top_names"]))
    out.write("\n".join(lines) + "\n")
    return 0


def _cmd_tag(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    from genai_trace.exceptions import TraceNotStoredError
    from genai_trace.store.editing import delete_tag, set_tag

    if args.delete == (args.value is not None):
        raise CliError("give a VALUE to set the tag, or --delete to remove it (one of the two)", 2)
    try:
        if args.delete:
            had = delete_tag(store.path, args.trace_id, args.key, store.busy_timeout_s)
            said = "removed tag" if had else "no tag to remove:"
            out.write(f"{said} {args.key} on {args.trace_id}\n")
        else:
            set_tag(store.path, args.trace_id, args.key, args.value, store.busy_timeout_s)
            out.write(f"tagged {args.trace_id}: {args.key}={args.value}\n")
    except TraceNotStoredError as exc:
        raise CliError(str(exc)) from None
    return 0


def _cmd_rm(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    from genai_trace.store.editing import delete_traces

    filtered = any(getattr(args, name) for name in _FILTERS)
    if filtered == bool(args.trace_ids):
        raise CliError(
            "name trace ids, or give filters such as --since or --state (one of the two)", 2
        )
    if args.trace_ids:
        found = [t.info.trace_id for t in map(store.get, args.trace_ids) if t is not None]
        if not found:
            raise CliError(f"none of the traces named is in {store.path}")
    else:
        found = [info.trace_id for info in store.search(_query(args))]
    if not found:
        out.write("no traces match: nothing deleted\n")
        return 0
    _confirm(f"delete {len(found)} trace(s) from {store.path}?", args.yes)
    deleted = delete_traces(store.path, found, None, store.busy_timeout_s)
    out.write(f"deleted {len(deleted)} trace(s) from {store.path}\n")
    return 0


_FILTERS = ("state", "name", "span_type", "tag", "session", "user", "text", "since", "until")


def _confirm(question: str, yes: bool) -> None:
    """Ask on the terminal; without one, only ``--yes`` goes on (a script must say so)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"not asking to {question[:-1]}: stdin is not a terminal; pass --yes", 2)
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("nothing deleted")


def _usage_stats(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    since = _age(args.since, "--since") if args.since else None
    rows = usage_summary(store, args.by, since)
    if args.json:
        out.write(dumps([row.to_dict() for row in rows], default=safe_repr, indent=2) + "\n")
        return 0
    out.write(format_usage_table(rows, args.by) + "\n")
    return 0


def _cmd_ui(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    from genai_trace.ui import serve

    if store.exists():
        store.count()  # a file that is not a store is refused now, not in the page later
    try:
        return serve(
            store,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            open_browser=args.open,
            out=out,
            allow_feedback=args.allow_feedback,
        )
    except ValueError as exc:
        raise CliError(str(exc), 2) from None


# --- helpers -------------------------------------------------------------------------


def _check_endpoint(endpoint: str, protocol: str) -> None:
    """Refuse, as a usage error, an endpoint that is not a URL (``grpc`` takes host:port too)."""
    with_scheme = "://" in endpoint
    parts = urllib.parse.urlsplit(endpoint if with_scheme else "//" + endpoint)
    try:
        port_ok = parts.port is not None or with_scheme
    except ValueError:
        port_ok = False
    scheme_ok = parts.scheme in ("http", "https") or (protocol == "grpc" and not with_scheme)
    if not (scheme_ok and parts.hostname and port_ok):
        example = "127.0.0.1:4317" if protocol == "grpc" else "http://127.0.0.1:4318"
        raise CliError(f"bad endpoint {endpoint!r}: use a URL like {example}", 2)


def _check_reachable(endpoint: str, protocol: str) -> None:
    """Fail fast, in one line, when nothing listens at ``endpoint`` (instead of retrying)."""
    parts = urllib.parse.urlsplit(endpoint if "://" in endpoint else "//" + endpoint)
    default_port = 443 if parts.scheme == "https" else 4317 if protocol == "grpc" else 4318
    try:
        host, port = parts.hostname or "localhost", parts.port or default_port
        socket.create_connection((host, port), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot connect to {endpoint}: {exc}") from None


def _table(rows: list[TraceInfo], width: int) -> str:
    fixed = 23 + 2 + 24 + 2 + 11 + 2 + 9 + 2 + 7 + 2
    preview = max(16, (width - fixed - 2) // 2)
    header = (
        f"{'TIME':<23}  {'NAME':<24}  {'STATE':<11}  {'DURATION':>9}  {'TOKENS':>7}  "
        f"{'REQUEST':<{preview}}  RESPONSE"
    )
    lines = [header]
    for info in rows:
        tokens = "" if info.token_usage is None else str(info.token_usage.total_tokens)
        lines.append(
            f"{format_time(info.start_time_ns):<23}  {_cell(info.name, 24):<24}  "
            f"{info.state:<11}  {format_duration(info.duration_ms):>9}  {tokens:>7}  "
            f"{_cell(info.request_preview, preview):<{preview}}  "
            f"{_cell(info.response_preview, preview)}"
        )
    if not rows:
        lines.append("(no traces match)")
    return "\n".join(lines)


def _cell(value: object, width: int) -> str:
    """``value`` on one line in a column of ``width``: cut with one ellipsis character."""
    text = one_line(value, _MAX_INT)
    return text if len(text) <= width else text[: width - 1] + _ELLIPSIS


def _ready(store: TraceReader) -> bool:
    """The store exists and its tables are created (a writer may be half-way through)."""
    if not store.path.exists():
        return False
    try:
        store.count()
    except TraceStoreError:
        return False
    return True


def _tail_line(info: TraceInfo) -> str:
    tokens = "" if info.token_usage is None else f"  {info.token_usage.total_tokens} tok"
    return (
        f"{format_time(info.start_time_ns)}  {info.trace_id}  {info.name}  {info.state}  "
        f"{format_duration(info.duration_ms)}{tokens}  {_cell(info.request_preview, 60)}"
        f"  ->  {_cell(info.response_preview, 60)}"
    )


def _query(args: argparse.Namespace) -> TraceQuery:
    tags = dict(_tag(t) for t in args.tag) if args.tag else None
    return TraceQuery(
        start_time_ns=_time_ns(args.since) if args.since else None,
        end_time_ns=_time_ns(args.until) if args.until else None,
        state=args.state,
        name=args.name,
        span_type=args.span_type,
        tags=tags,
        session_id=args.session,
        user_id=args.user,
        text=args.text,
        order_by=args.order,
        descending=not args.ascending,
        limit=args.limit,
    )


def _time_ns(text: str) -> int:
    """``15m``/``2h``/``1d`` ago, or an ISO date or time."""
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _SECONDS[match.group(2)]
        return time.time_ns() - int(seconds * 1e9)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"bad time {text!r}: use 30s, 15m, 2h, 1d or an ISO date like 2026-11-28T10:00", 2
        ) from None
    return int(moment.timestamp() * 1e9)


def _tag(text: str) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    if not key:
        raise CliError(f"bad tag filter {text!r}: use KEY or KEY=VALUE", 2)
    return key, value if sep else None


def _header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CliError(f"bad header {text!r}: use NAME=VALUE", 2)
    return key.strip(), value.strip()


def _color(args: argparse.Namespace, out: TextIO) -> bool:
    if args.color is not None:
        return bool(args.color)
    return out.isatty() and "NO_COLOR" not in os.environ


def _add_filters(parser: argparse.ArgumentParser, limit: int) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument("--state", choices=_STATES, help="trace state")
    group.add_argument("--name", help="root span name (exact)")
    group.add_argument("--span-type", help="traces holding a span of this type (e.g. LLM)")
    group.add_argument("--tag", action="append", help="KEY or KEY=VALUE; repeat to AND")
    group.add_argument("--session", help="session id")
    group.add_argument("--user", help="user id")
    group.add_argument("--text", help="substring of the request or response preview")
    group.add_argument("--since", help="start time: 30s, 15m, 2h, 1d ago, or an ISO date")
    group.add_argument("--until", help="end of the start-time range (same forms)")
    group.add_argument("--order", choices=ORDER_BY, default="start_time")
    group.add_argument("--ascending", action="store_true", help="oldest/smallest first")
    group.add_argument("--limit", type=_positive_int, default=limit, help=f"default {limit}")


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


def _whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value > _MAX_INT:  # SQLite's integers are 64-bit
        raise argparse.ArgumentTypeError(f"expected at most {_MAX_INT}, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _non_negative_seconds(text: str) -> float:
    value = _seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    return value


def _cmd_prune(store: TraceReader, args: argparse.Namespace, out: TextIO) -> int:
    from genai_trace.store.retention import Retention, parse_size, prune_store

    said = [
        f"started over {args.older_than} ago" if args.older_than else "",
        f"beyond {args.max_size}" if args.max_size else "",
        f"beyond the newest {args.max_traces}" if args.max_traces else "",
    ]
    if not any(said):
        raise CliError("say what to prune: --older-than 7d, --max-size 500MB or --max-traces N", 2)
    try:
        max_bytes = parse_size(args.max_size) if args.max_size else 0
    except ValueError as exc:
        raise CliError(f"--max-size: {exc}", 2) from None
    retention = Retention(max_bytes, _age(args.older_than), args.max_traces or 0)
    report = prune_store(store.path, retention, args.vacuum, store.busy_timeout_s)
    print(
        f"pruned {report.removed} traces ({', '.join(filter(None, said))}); "
        f"{report.kept} left, {report.used_bytes / 1e6:.1f} MB in use",
        file=out,
    )
    if args.vacuum:
        print(
            f"vacuumed: the file went from {report.file_bytes_before / 1e6:.1f} MB "
            f"to {report.file_bytes_after / 1e6:.1f} MB",
            file=out,
        )
    return 0


def _age(text: str | None, flag: str = "--older-than") -> float:
    if not text:
        return 0.0
    match = _DURATION.match(text.strip())
    if match is None:
        raise CliError(f"{flag}: expected an age such as 30m, 12h or 7d, got {text!r}", 2)
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-trace", description="Read the local genai-trace store."
    )
    db_help = f"the store (env GENAI_TRACE_DB; default {DEFAULT_DB_PATH})"
    parser.add_argument("--db", help=db_help)
    parser.add_argument("--version", action="version", version=f"%(prog)s {sc.TRACER_VERSION}")
    # --db is taken after the command too: `genai-trace ui --db PATH`.
    with_db = argparse.ArgumentParser(add_help=False)
    with_db.add_argument("--db", help=db_help, default=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, help=help_text, parents=[with_db])

    listing = command("list", "a table of traces, newest first")
    _add_filters(listing, 50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_cmd_list)

    show = command("show", "one trace as a tree of spans")
    show.add_argument("trace_id", nargs="?", help="trace id or client request id")
    show.add_argument("--last", action="store_true", help="the most recent trace")
    show.add_argument("--json", action="store_true", help="the whole trace as JSON")
    show.add_argument("--no-io", action="store_true", help="leave out inputs and outputs")
    show.add_argument("--width", type=_positive_int, default=160, help="chars of each input")
    show.add_argument("--color", action=argparse.BooleanOptionalAction, default=None)
    show.set_defaults(run=_cmd_show)

    feedback = command("feedback", "record a feedback (or --expectation) on a stored trace")
    feedback.add_argument("trace_id", help="trace id or client request id")
    feedback.add_argument("name", help="what is judged, e.g. thumbs")
    feedback.add_argument("value", help="true/false, a number, a label, or JSON")
    feedback.add_argument("--rationale", help="why")
    feedback.add_argument("--source", default="human", help="human[:WHO], llm_judge:MODEL, code")
    feedback.add_argument("--span", help="the judged span's id (default: the whole trace)")
    feedback.add_argument(
        "--expectation", action="store_true", help="ground truth, not a judgement"
    )
    feedback.set_defaults(run=_cmd_feedback)

    tail = command("tail", "follow new traces as they are stored")
    tail.add_argument(
        "--initial", type=_non_negative_int, default=10, help="recent traces shown first"
    )
    tail.add_argument(
        "--interval", type=_positive_seconds, default=0.5, help="seconds between polls"
    )
    tail.add_argument("--count", type=_positive_int, help="stop after this many new traces")
    tail.add_argument("--timeout", type=_non_negative_seconds, help="stop after this many seconds")
    tail.set_defaults(run=_cmd_tail)

    export = command("export", "traces as JSON lines or OTLP-JSON")
    _add_filters(export, 1_000_000)
    export.add_argument("--format", choices=("jsonl", "otlp-json"), default="jsonl")
    export.add_argument("--output", "-o", help="file to write (default stdout)")
    export.set_defaults(run=_cmd_export)

    send = command("send", "replay stored traces to an OTLP backend")
    send.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:6006")
    send.add_argument("--protocol", choices=sc.OTLP_PROTOCOLS, default="http/protobuf")
    send.add_argument("--header", action="append", default=[], help="NAME=VALUE; repeatable")
    send.add_argument("--dialect", choices=sc.DIALECT_NAMES, default="default")
    _add_filters(send, 1_000_000)
    send.set_defaults(run=_cmd_send)

    ui = command("ui", "serve the local trace viewer on 127.0.0.1")
    ui.add_argument("--port", type=int, default=6007, help="default 6007; 0 picks a free port")
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind; anything but 127.0.0.1 needs --allow-remote",
    )
    ui.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding to a non-loopback interface (the viewer has no authentication)",
    )
    ui.add_argument("--open", action="store_true", help="open the viewer in a web browser")
    ui.add_argument(
        "--allow-feedback",
        action="store_true",
        help="let the page record a thumbs up/down and a comment (read-only otherwise)",
    )
    ui.set_defaults(run=_cmd_ui)

    tag = command("tag", "set or remove a tag of a stored trace (in this store only)")
    tag.add_argument("trace_id", help="trace id or client request id")
    tag.add_argument("key")
    tag.add_argument("value", nargs="?", help="the value to set")
    tag.add_argument("--delete", action="store_true", help="remove the tag instead")
    tag.set_defaults(run=_cmd_tag)

    rm = command("rm", "delete whole traces, named or matching filters (asks first)")
    rm.add_argument("trace_ids", nargs="*", metavar="ID", help="trace id or client request id")
    _add_filters(rm, 1_000_000)
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(run=_cmd_rm)

    stats = command("stats", "counts, tokens, time range; --by: usage, cost, latency per group")
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--by", choices=GROUPINGS, help="tokens, cost, p50/p95, errors per group")
    stats.add_argument("--since", help="with --by: only the last 30m, 24h, 7d...")
    stats.set_defaults(run=_cmd_stats)

    prune = command("prune", "delete the oldest traces: by age, total size or count")
    prune.add_argument("--older-than", help="e.g. 7d, 12h: delete traces started before")
    prune.add_argument("--max-size", help="e.g. 500MB, 2GB: keep the store under this")
    prune.add_argument("--max-traces", type=_positive_int, help="keep the newest this many")
    prune.add_argument("--vacuum", action="store_true", help="then shrink the file on disk")
    prune.set_defaults(run=_cmd_prune)
    return parser


if __name__ == "__main__":
    sys.exit(main())
