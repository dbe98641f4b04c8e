"""Benchmarks for genai-trace: caller-thread cost per span against raw OpenTelemetry and peers.

Run ``python -m bench`` from the repository root; see ``bench/RESULTS.md`` for how to read
the table. Every scenario runs in a fresh interpreter, so nothing one configures (a global
TracerProvider, threads, caches) leaks into the next.
"""
