"""What runs on the app's thread: the calls the app makes, and the spans they open.

One module per concept; dependencies point one way, from the top of this list down:

- ``decorator``: ``@genai_trace.trace``, with the binding of a call's arguments.
- ``client``: ``TraceClient``, the API with explicit ids (its registry, spans, checks).
- ``fluent``: ``start_span``, ``get_current_span``, ``update_current_trace``.
- ``propagation``: ``use_span``, ``inject``, ``extract``; ``baggage``: the opt-in propagator.
- ``span``: ``GenAISpan`` and ``SpanScope``, the one path that opens and closes a span.
- ``context``: ``genai_trace.context(...)``.
- ``lifecycle``: configure, flush, shutdown, disable/enable, stats.
- ``reading``: get_trace, search_traces, get_last_trace_id.

Layer: above ``_runtime``, ``_semantics``, ``store``, ``exporters`` and ``exceptions``; below
``integrations``, ``testing``, ``ui`` and ``cli``. Nothing below imports ``_api``.
"""
