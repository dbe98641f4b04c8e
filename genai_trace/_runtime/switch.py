"""Whether genai-trace records at all: the one switch behind ``disable()``/``enable()``.

``GENAI_TRACE_DISABLED`` (or ``configure(disabled=True)``) sets it when a configuration is
installed. Everything that records reads it here: the decorator and ``start_span`` (which
then call the user's code directly), the client (placeholder spans) and the assembler
(which then takes no trace in, so spans of other instrumentations are not stored either).
A plain module global, read without a lock on every hot path.
"""

from __future__ import annotations

disabled: bool = False
