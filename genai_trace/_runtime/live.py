"""The live state of tracing in this process, in one object: :data:`live`.

What the hot paths read on every span or call lives here and nowhere else: the installed
``Runtime``, the ``disable()`` switch, the active redactor, whether content is captured,
the payload cap, whether ``genai_trace.context()`` was ever used, and (for the export side)
the price table. ``configure`` replaces
these together (``state._install``); readers take one attribute of one module-level object,
without a lock (a plain attribute read is atomic, and a reader that sees the previous
configuration for one call records that call as the previous configuration would have).

Why a module of its own rather than ``state.py``: ``state`` builds the ``Runtime`` and so
imports the assembler and the pipeline, which read this state themselves. A leaf module
breaks that loop. Layer: ``_runtime``; imports only ``_semantics`` (the Redactor type).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genai_trace._runtime.config import Config
from genai_trace._semantics.pricing import PriceTable
from genai_trace._semantics.redaction import Redactor

if TYPE_CHECKING:
    from genai_trace._runtime.state import Runtime


class LiveState:
    """The one mutable record of what is in force; ``state`` writes it, everyone else reads.

    The exception: ``context()`` (and the baggage propagator) set ``scope_in_use``.
    """

    __slots__ = (
        "capture_content",
        "disabled",
        "payload_cap",
        "prices",
        "redactor",
        "runtime",
        "scope_in_use",
    )

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        """The installed runtime; ``None`` before the first span and after ``shutdown``."""
        self.disabled = False
        """``disable()``/``GENAI_TRACE_DISABLED``: decorated code runs untraced, the
        assembler takes no trace in, the client makes placeholder spans."""
        self.redactor: Redactor | None = Redactor()
        """The redactor run on captured values; ``None`` when ``redaction=False``."""
        self.capture_content = True
        """Whether inputs, outputs and messages are recorded at all."""
        self.payload_cap = Config.max_payload_chars  # the default, before any configuration
        """``max_payload_chars`` of the configuration in force: the one place it is read."""
        self.prices = PriceTable.shipped()
        """The price table in force: the shipped one with ``configure(prices=...)``'s models.
        Read by the trace builder, on the export side."""
        self.scope_in_use = False
        """Set by the first ``context()`` with values; until then spans skip looking for one."""


live = LiveState()
"""The process's live state (a forked child inherits it, which is what it should do)."""
