"""The results table, in Markdown so the same text reads in a terminal and in RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench._registry import SCENARIOS


def _baseline(row: str, result: dict[str, Any], results: dict[str, dict[str, Any]]) -> Any:
    scenario = SCENARIOS[row.split("@")[0]]
    if scenario.baseline is None:
        return None
    # A row measured under the peers' interpreter is divided by the floor measured there.
    if result.get("python_path_is_peers") and f"{scenario.baseline}@peers" in results:
        return results[f"{scenario.baseline}@peers"]
    return results.get(scenario.baseline)


def _cells(row: str, result: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    status = result.get("status")
    if status != "ok":
        return ["-", "-", "-", str(result.get("reason", status))]
    if row == "memory":
        note = (
            f"RSS {result['rss_start_mib']:.1f} MiB after {result['warmup_calls']:,} calls, "
            f"{result['rss_end_mib']:.1f} MiB after {result['calls']:,} "
            f"({result['rss_end_mib'] - result['rss_start_mib']:+.1f} MiB); "
            f"exported {result['exported']:,}"
        )
        return ["-", "-", "-", note]
    if row == "memory_stalled":
        note = (
            f"RSS {result['rss_start_mib']:.1f} MiB after {result['calls'] // 5:,} calls, "
            f"{result['rss_end_mib']:.1f} MiB after {result['calls']:,} "
            f"({result['rss_end_mib'] - result['rss_start_mib']:+.1f} MiB); queue cap "
            f"{result['queue_cap']:,} traces, {result['dropped']:,} dropped and counted"
        )
        return ["-", "-", "-", note]
    if row == "disabled":
        note = f"+{result['added_ns']:.0f} ns/call over a bare call ({result['bare_ns']:.0f} ns)"
        return ["-", "-", "-", note]
    median = result["us_per_span"]
    spread = (
        f"{result['us_per_span_min']:.2f}-{result['us_per_span_max']:.2f}"
        if "us_per_span_min" in result
        else "-"
    )
    base = _baseline(row, result, results)
    ratio = f"{median / base['us_per_span']:.2f}x" if base and base.get("status") == "ok" else "-"
    if row in ("no_loss", "no_loss_store"):
        note = (
            f"exported {result['exported']:,}/{result['produced']:,} traces "
            f"(lost {result['lost']:,}); {result['spans_per_s_calling']:,.0f} spans/s calling, "
            f"{result['spans_per_s_end_to_end']:,.0f} spans/s incl. flush"
        )
    else:
        parts = [f"v{result['version']}"] if result.get("version") else []
        if result.get("spans_expected"):
            share = result.get("spans_exported", 0) / result["spans_expected"]
            parts.append(f"sink got {share:.1%} of spans")
        elif result.get("traces_expected"):
            share = result.get("traces_exported", 0) / result["traces_expected"]
            parts.append(f"sink got {share:.1%} of traces (not read)")
        note = "; ".join(parts)
    return [f"{median:.2f}", spread, ratio, note]


def render(
    results: dict[str, dict[str, Any]],
    imports: dict[str, Any],
    machine: dict[str, Any],
    peers_python: bool,
) -> str:
    """The whole report: machine line, the table, the import-time line."""
    lines = [
        f"machine: {machine['nproc']} CPUs, {machine['implementation']} {machine['python']}, "
        f"opentelemetry-sdk {machine['opentelemetry-sdk']}, orjson {machine['orjson']}, "
        f"load average (1 min, at the end) {machine['loadavg_1m']}, "
        f"genai-trace {machine['genai-trace']} at {machine.get('commit')}",
        "",
        "| scenario | us/span (median) | min-max | vs floor | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for row, result in results.items():
        scenario = SCENARIOS[row.split("@")[0]]
        title = scenario.title + (" (peers python)" if row.endswith("@peers") else "")
        lines.append("| " + " | ".join([f"`{row}` {title}", *_cells(row, result, results)]) + " |")
    if imports.get("status") == "ok":
        lines += ["", f"import genai_trace: {imports['median_ms']:.1f} ms (median, -X importtime)"]
    if peers_python:
        lines.append("peer rows ran under --python; their ratios use the floor measured there.")
    return "\n".join(lines)
