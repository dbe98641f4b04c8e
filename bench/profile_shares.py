"""Shares of export-side CPU by stage, from py-spy's raw (collapsed) samples.

``python -m bench.profile_shares FILE`` reads ``py-spy record --threads --format raw``
output (see ``bench/profile_export.py``) and prints, per thread, how its samples split over
the stages of genai-trace's export path. A sample goes to the first stage (in the order
below) any frame of its stack matches, so "build" includes the JSON decoding it does.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

# (stage, substrings of a frame), most specific first.
STAGES = [
    ("build: redaction of waiting payloads", ("redact_waiting",)),
    ("build: JSON decode of inputs/outputs", ("_decode_io", "from_text")),
    ("build: span_record (rest)", ("span_record",)),
    ("build: previews, totals, TraceInfo (rest)", ("build_trace", "deferred.py")),
    ("dialect attributes (JSON re-encode, keys)", ("dialects/",)),
    ("records -> OTel spans (_otel_spans.py)", ("_otel_spans.py",)),
    ("OTLP protobuf encode (official encoder)", ("trace_encoder", "SerializeToString", "_encode_")),
    ("HTTP send (requests/urllib3)", ("requests/", "urllib3/", "http/client.py", "gzip")),
    ("store: rows to JSON (codec: info_to_dict, span_to_dict, dumps)", ("codec.py",)),
    ("store: read of stored parts (merge check)", ("_stored_parts", "merge_parts")),
    ("store: INSERT execute", ("_insert_rows",)),
    ("store: commit", ("sqlite.py:228)",)),
    ("store: other (row tuples, BEGIN)", ("sqlite.py",)),
    ("worker/queue overhead", ("worker.py", "pipeline.py")),
]


IDLE = "(waiting: lock, event, GIL yield, reply; not CPU)"
# py-spy counts some waits as active: a timed lock acquire, ``time.sleep(0)``, a socket read.
_IDLE_LEAVES = ("Condition.wait", "Event.wait", "worker.py:92)", "SocketIO.readinto", "_poll")


def stage_of(stack: str) -> str:
    leaf = stack.rsplit(";", 1)[-1]
    if any(n in leaf for n in _IDLE_LEAVES):
        return IDLE
    for stage, needles in STAGES:
        if any(n in stack for n in needles):
            return stage
    return "other"


def shares(path: str) -> dict[str, Counter[str]]:
    by_thread: dict[str, Counter[str]] = defaultdict(Counter)
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            thread = stack.split(";", 1)[0]
            name = thread.split(": ", 1)[-1] if "genai_trace" in thread else thread
            by_thread[name][stage_of(stack)] += int(count)
    return by_thread


def render(by_thread: dict[str, Counter[str]]) -> str:
    total = sum(sum(n for k, n in c.items() if k != IDLE) for c in by_thread.values())
    lines = []
    for thread, counter in sorted(by_thread.items(), key=lambda kv: -sum(kv[1].values())):
        idle = counter.pop(IDLE, 0)
        samples = sum(counter.values())
        if not samples:
            continue
        lines += [
            "",
            f"{thread}: {samples} samples on CPU ({samples / total:.0%} of the process; "
            f"{idle} more waiting)",
            "| stage | share of this thread |",
            "|---|---:|",
        ]
        for stage, count in counter.most_common():
            lines.append(f"| {stage} | {count / samples:.0%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(shares(sys.argv[1])))
