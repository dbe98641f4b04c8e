// The dashboard: cost, tokens and p95 latency of the LLM calls per model over time, and the
// models' totals. Charts are drawn by uPlot (vendored: uPlot.esm.js, MIT, uPlot.LICENSE).
import { getJSON } from "./api.js";
import { clear, costText, formatDuration, formatNumber, h } from "./dom.js";
import uPlot from "./uPlot.esm.js";

// [label, seconds, slices]
const RANGES = [["1h", 3600, 12], ["24h", 86400, 24], ["7d", 7 * 86400, 28], ["30d", 30 * 86400, 30]];
const COLORS = ["#3b5bdb", "#d92d20", "#0e9f6e", "#8b5cf6", "#f08c00", "#0ea5e9", "#c2255c", "#64748b"];
const CHARTS = [
  ["cost_usd", "Cost (USD)", (v) => (v === null ? "—" : `$${v.toFixed(4)}`)],
  ["tokens", "Tokens", (v) => (v === null ? "—" : formatNumber(v))],
  ["p95_ms", "p95 latency", (v) => (v === null ? "—" : formatDuration(v))],
];

/** Mount the dashboard for the range in the link (#/dashboard?range=24h). */
export function dashboardPage(main, params) {
  const range = RANGES.find((r) => r[0] === params.get("range")) || RANGES[1];
  const plots = [];
  const picker = h("div", { class: "range-picker" }, RANGES.map(([label]) =>
    h("a", { class: `mini${label === range[0] ? " on" : ""}`, href: `#/dashboard?range=${label}` }, label)));
  const body = h("div", { class: "dashboard-body" }, h("p", { class: "empty" }, "Loading usage…"));
  clear(main).append(h("section", { class: "page dashboard-page" },
    h("div", { class: "dashboard-head" }, h("h1", {}, "Dashboard"), picker),
    h("p", { class: "muted" }, "LLM calls by model: each call counted once, priced per token kind (cached and reasoning tokens at their own rates)."),
    body));
  getJSON("usage", { since_s: range[1], buckets: range[2] }).then((data) => {
    const models = Object.keys(data.series);
    if (!models.length) {
      clear(body).append(h("p", { class: "empty", dataset: { empty: "usage" } },
        `No LLM calls with token usage in the last ${range[0]}. Calls traced with autolog() or set_token_usage() appear here.`));
      return;
    }
    clear(body).append(summaryTable(data.models));
    for (const [key, title, format] of CHARTS) {
      const box = h("div", { class: "chart", dataset: { chart: key } }, h("h2", {}, title));
      body.appendChild(box);
      plots.push(drawChart(box, data, models, key, format));
    }
  }, (exc) => clear(body).append(h("div", { class: "error-box" }, exc.message)));
  return { stop() { for (const plot of plots) plot.destroy(); } };
}

function drawChart(box, data, models, key, format) {
  const series = [{}];
  const columns = [data.times];
  models.forEach((model, i) => {
    const color = COLORS[i % COLORS.length];
    series.push({ label: model === "None" ? "(own costs)" : model, stroke: color, fill: `${color}22`, width: 2,
      points: { show: true, size: 5 }, spanGaps: false, value: (u, v) => format(v) });
    columns.push(data.series[model][key]);
  });
  const width = Math.max(320, Math.min(box.parentElement.clientWidth || 900, 1400) - 4);
  return new uPlot({
    width, height: 200, series,
    axes: [{}, { size: 70, values: (u, ticks) => ticks.map((t) => format(t)) }],
    scales: { x: { time: true } },
    legend: { live: true },
  }, columns, box);
}

function summaryTable(rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "traces usage-models" },
    h("thead", {}, h("tr", {}, ["Model", "Calls", "Input", "Cached", "Output", "Reasoning", "Cost", "p50", "p95", "Errors"]
      .map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { dataset: { model: r.key ?? "" } },
      h("td", { class: "mono" }, r.key ?? "(own costs)"),
      h("td", { class: "num" }, formatNumber(r.count)),
      h("td", { class: "num" }, formatNumber(r.input_tokens)),
      h("td", { class: "num" }, formatNumber(r.cache_read_tokens)),
      h("td", { class: "num" }, formatNumber(r.output_tokens)),
      h("td", { class: "num" }, formatNumber(r.reasoning_tokens)),
      h("td", { class: "num", title: r.unpriced ? `${r.unpriced} calls without a price` : "" }, costText(r.cost_usd)),
      h("td", { class: "num" }, formatDuration(r.p50_ms)),
      h("td", { class: "num" }, formatDuration(r.p95_ms)),
      h("td", { class: "num" }, `${Math.round(r.error_rate * 100)}%`))))));
}
