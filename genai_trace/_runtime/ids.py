"""Trace and span ids: W3C sizes, from a per-process generator the app cannot disturb.

Not the ``random`` module itself (an app's ``random.seed(0)`` would make ids repeat across
processes), and not ``os.urandom`` per id (it releases the GIL and starves the export
thread). One ``random.Random`` seeded once from the OS, re-seeded in a forked child.

A trace id starts with the second it was made (the layout of AWS X-Ray's ids), its last 96
bits random: the local store indexes traces by id, and ids that grow with time are added at
the end of that index, where a random id lands on a page of its own once the store is large
(each trace then writes a page more, and the store slows as it grows). W3C Trace Context's
``random`` flag, which the SDK sets from :meth:`GenAIIdGenerator.is_trace_id_random`, asks
for the right-most 7 bytes to be random; samplers read the low 64 bits.
"""

from __future__ import annotations

import os
import random
import threading
import time
import weakref

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace.id_generator import IdGenerator

_GENERATORS: weakref.WeakSet[GenAIIdGenerator] = weakref.WeakSet()


class _ForcedTraceId(threading.local):
    """Per-thread slot for a caller-supplied trace id.

    The class default makes an unset slot a plain attribute read: ``getattr`` with a
    default on a bare ``threading.local`` raises and catches inside, costing about 0.3 µs
    on every root span.
    """

    trace_id: int | None = None


class GenAIIdGenerator(IdGenerator):
    """W3C ids from a private generator, re-seeded after ``fork``.

    Span ids are random; trace ids are the second they were made and 96 random bits.

    A trace id can be forced for the next root span started on this thread
    (:meth:`force_next_trace_id`), which is how a caller-supplied id becomes the OTel trace id.
    """

    def __init__(self) -> None:
        self._rng = random.Random(os.urandom(32))
        # Per-thread slot for a caller-supplied trace id; read by the next root span only.
        self._forced = _ForcedTraceId()
        _GENERATORS.add(self)

    def reseed(self) -> None:
        """Draw a fresh seed from the OS (after ``fork`` both processes would repeat ids)."""
        self._rng = random.Random(os.urandom(32))

    def generate_span_id(self) -> int:
        """Return a random non-zero 64-bit span id."""
        span_id = self._rng.getrandbits(64)
        while span_id == trace_api.INVALID_SPAN_ID:
            span_id = self._rng.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        """Return the forced trace id if one is set on this thread, else a new one.

        A new one is the current second (32 bits, since the epoch) and 96 random bits:
        never the invalid id, since the second is not 0.
        """
        forced = self._forced.trace_id
        if forced is not None:
            self._forced.trace_id = None
            return forced
        return (int(time.time()) & 0xFFFFFFFF) << 96 | self._rng.getrandbits(96)

    def is_trace_id_random(self) -> bool:
        """The right-most 7 bytes are random, as W3C's flag asks (a forced id: the caller's)."""
        return True

    def force_next_trace_id(self, trace_id: int | None) -> None:
        """Make the next root span started on this thread use ``trace_id`` (``None`` clears)."""
        self._forced.trace_id = trace_id


def reseed_after_fork() -> None:
    """In a forked child: new random streams, so parent and child never share ids."""
    for generator in list(_GENERATORS):
        generator.reseed()


def format_trace_id(trace_id: int) -> str:
    """Return a trace id as 32 lowercase hex digits."""
    # printf-style: half the cost of an f-string's format spec, on every span record.
    return "%032x" % trace_id  # noqa: UP031


def parse_trace_id(text: str) -> int | None:
    """A trace id's int from its 32 hex digits; ``None`` for other text (a request id)."""
    if len(text) != 32:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def format_span_id(span_id: int) -> str:
    """Return a span id as 16 lowercase hex digits."""
    return "%016x" % span_id  # noqa: UP031
