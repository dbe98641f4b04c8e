"""json vs orjson on realistic span payloads: ``python -m bench.serialization``.

Each payload is serialized the way genai-trace does it (compact, non-ASCII kept, odd types
through a default hook), the median of repeated timings, in microseconds per payload.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import statistics
import timeit
from typing import Any

import orjson


@dataclasses.dataclass
class Document:
    id: str
    text: str
    score: float
    fetched_at: datetime.datetime


def payloads() -> dict[str, Any]:
    chat = {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
            *(
                {"role": "user" if i % 2 else "assistant", "content": "Tell me about OTLP. " * 8}
                for i in range(8)
            ),
        ],
        "model": "gpt-4o-mini",
        "temperature": 0.2,
    }
    now = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.timezone.utc)
    documents = [Document(f"doc-{i}", "OpenTelemetry is an observability framework. " * 10,
                          0.9 - i / 100, now) for i in range(10)]  # fmt: skip
    return {
        "small dict (2 args)": {"question": "What is OTLP?", "k": 3},
        "chat, 9 messages": chat,
        "10 retrieved dataclasses": {"documents": documents},
    }


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return repr(value)


def with_json(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


def with_orjson(value: Any) -> str:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def measure(func: Any, value: Any) -> float:
    runs = [timeit.timeit(lambda: func(value), number=2000) / 2000 * 1e6 for _ in range(7)]
    return statistics.median(runs)


def main() -> None:
    print("| payload | bytes | json µs | orjson µs | json / orjson |")
    print("|---|---:|---:|---:|---:|")
    for name, value in payloads().items():
        size = len(with_orjson(value))
        slow, fast = measure(with_json, value), measure(with_orjson, value)
        print(f"| {name} | {size} | {slow:.2f} | {fast:.2f} | {slow / fast:.1f}x |")


if __name__ == "__main__":
    main()
