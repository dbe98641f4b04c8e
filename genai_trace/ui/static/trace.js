// The trace view: the trace's facts, a waterfall of its spans, and the selected span.
import { getJSON } from "./api.js";
import {
  clear, copyButton, formatDuration, formatNumber, formatTime, h, isoTime, sessionHref,
  stateBadge, tagChips, tokensText, tokensTitle, traceHref, typeBadge, typeClass,
} from "./dom.js";
import { feedbackPanel } from "./feedback.js";
import { jsonTree, valueSection } from "./values.js";

/** Mount the view of one trace; returns {traceId, select(spanId), stop()} for the router. */
export function tracePage(main, traceId, spanId, backHash) {
  let stopped = false;
  const view = { traceId, select: () => {}, stop: () => { stopped = true; } };
  clear(main).append(h("p", { class: "empty" }, "Loading trace…"));
  getJSON(`traces/${encodeURIComponent(traceId)}`).then((trace) => {
    if (stopped) return; // the user went elsewhere while it loaded
    const built = render(main, trace, backHash);
    view.select = built.select;
    view.stop = built.stop;
    built.select(spanId, false);
  }, (exc) => {
    clear(main).append(h("section", { class: "page" },
      h("a", { class: "back", href: backHash }, "← Traces"),
      h("div", { class: "error-box" }, exc.status === 404 ? `No trace ${traceId} in this store.` : exc.message)));
  });
  return view;
}

function render(main, trace, backHash) {
  const info = trace.info;
  const spans = trace.spans;
  const rows = flatten(spans);
  const t0 = spans.reduce((m, s) => Math.min(m, s.start_time_ns), info.start_time_ns);
  const t1 = spans.reduce((m, s) => Math.max(m, s.end_time_ns || s.start_time_ns), info.end_time_ns || t0);
  const total = Math.max(t1 - t0, 1);
  const detail = h("aside", { class: "span-detail", id: "span-detail" });
  const collapsed = new Set();
  const waterfall = h("div", { class: "waterfall", tabindex: 0, role: "tree", "aria-label": "Spans" });
  let selected = null;

  function select(spanId, updateHash = true) {
    const span = spans.find((s) => s.span_id === spanId) || (rows[0] && rows[0].span);
    if (!span) return;
    selected = span.span_id;
    for (const row of waterfall.querySelectorAll(".wf-row")) row.classList.toggle("selected", row.dataset.spanId === selected);
    detail.replaceChildren(spanDetail(span, t0, spans, (id) => select(id)));
    if (updateHash) history.replaceState(null, "", traceHref(info.trace_id, span.span_id));
  }

  function drawRows() {
    const hidden = hiddenBy(rows, collapsed);
    waterfall.replaceChildren(axis(total), ...rows.filter((r) => !hidden.has(r.span.span_id)).map((r) =>
      spanRow(r, t0, total, collapsed, r.span.span_id === selected, {
        select: (id) => select(id),
        toggle: (id) => { collapsed.has(id) ? collapsed.delete(id) : collapsed.add(id); drawRows(); },
      })));
  }

  // ↑/↓ move through the spans from the moment the trace opens, unless the user is typing.
  function onKey(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    if (event.altKey || event.ctrlKey || event.metaKey || typingIn(event.target)) return;
    event.preventDefault();
    const visible = [...waterfall.querySelectorAll(".wf-row")];
    const index = visible.findIndex((r) => r.dataset.spanId === selected);
    const next = visible[Math.max(0, Math.min(visible.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)))];
    if (next) { select(next.dataset.spanId); next.scrollIntoView({ block: "nearest" }); }
  }
  document.addEventListener("keydown", onKey);

  drawRows();
  clear(main).append(h("section", { class: "page trace-page", dataset: { traceId: info.trace_id } },
    header(trace, backHash),
    feedbackPanel(trace),
    h("div", { class: "trace-body" },
      h("div", { class: "panel wf-panel" }, h("div", { class: "panel-title" }, `Spans (${spans.length})`, legend(spans)), waterfall),
      detail)));
  return { select, stop: () => document.removeEventListener("keydown", onKey) };
}

function typingIn(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

// A frame of genai-trace's own wrappers: `  File ".../genai_trace/...py", line N, in f`.
const OWN_FRAME = /^ {2}File "[^"]*[\\/]genai_trace[\\/][^"]*", line \d+/;

/** The stack trace without genai-trace's own frames (each with its source lines). */
function userFrames(stack) {
  const kept = [];
  let hidden = 0;
  let skipping = false;
  for (const line of String(stack).split("\n")) {
    if (line.startsWith("  File ")) {
      skipping = OWN_FRAME.test(line);
      if (skipping) { hidden += 1; continue; }
    } else if (skipping && line.startsWith("    ")) continue;
    else skipping = false;
    kept.push(line);
  }
  return { text: kept.join("\n"), hidden };
}

function stackBlock(stack) {
  const { text, hidden } = userFrames(stack);
  return [
    h("pre", { class: "stack", title: String(stack) }, text),
    hidden ? h("div", { class: "muted hidden-frames" }, `${hidden} genai-trace frame${hidden > 1 ? "s" : ""} hidden (hover the stack for all)`) : null,
  ];
}

/** Spans depth-first from each root, children in start order: [{span, depth, hasChildren}]. */
function flatten(spans) {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  for (const span of spans) {
    const parent = span.parent_id && ids.has(span.parent_id) ? span.parent_id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  for (const list of children.values()) list.sort((a, b) => a.start_time_ns - b.start_time_ns);
  const out = [];
  const stack = (children.get(null) || []).slice().reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [span, depth] = stack.pop();
    const kids = children.get(span.span_id) || [];
    out.push({ span, depth, hasChildren: kids.length > 0, parent: span.parent_id });
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  return out;
}

function hiddenBy(rows, collapsed) {
  const hidden = new Set();
  for (const row of rows) {
    if (collapsed.has(row.parent) || hidden.has(row.parent)) hidden.add(row.span.span_id);
  }
  return hidden;
}

function axis(total) {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = h("span", { class: "tick" }, f === 0 ? "0" : formatDuration((total * f) / 1e6));
    tick.style.left = `${f * 100}%`;
    return tick;
  });
  return h("div", { class: "wf-axis" }, h("div", { class: "wf-label" }, "Span"), h("div", { class: "wf-track" }, ticks));
}

function legend(spans) {
  const types = [...new Set(spans.map((s) => s.span_type))];
  return h("span", { class: "legend" }, types.map((t) => h("span", { class: `legend-item ${typeClass(t)}` }, h("i", {}), t)));
}

function spanRow(row, t0, total, collapsed, isSelected, actions) {
  const span = row.span;
  const error = span.status === "ERROR";
  const left = ((span.start_time_ns - t0) / total) * 100;
  const end = span.end_time_ns || t0 + total;
  const width = Math.max(((end - span.start_time_ns) / total) * 100, 0.4);
  const label = h("div", { class: "wf-label" },
    row.hasChildren
      ? h("button", { class: "caret", type: "button", title: collapsed.has(span.span_id) ? "Expand" : "Collapse", "aria-expanded": String(!collapsed.has(span.span_id)),
        onclick: (e) => { e.stopPropagation(); actions.toggle(span.span_id); } }, collapsed.has(span.span_id) ? "▸" : "▾")
      : h("span", { class: "caret-space" }),
    h("span", { class: `dot ${typeClass(span.span_type)}`, title: span.span_type }),
    h("span", { class: "wf-name", title: span.name }, span.name),
    error ? h("span", { class: "err-mark", title: span.status_message || "error" }, "!") : null);
  label.style.paddingLeft = `${6 + row.depth * 16}px`;
  const bar = h("div", { class: `wf-bar ${typeClass(span.span_type)}${error ? " err" : ""}${span.end_time_ns ? "" : " open"}` });
  bar.style.left = `${left}%`;
  bar.style.width = `${width}%`;
  const duration = h("span", { class: "wf-dur" }, formatDuration(span.duration_ms));
  if (width > 30) { duration.classList.add("inside"); duration.style.left = `${left}%`; } // on the bar
  else if (left + width > 80) duration.style.right = `${100 - left}%`; // before the bar
  else duration.style.left = `${left + width}%`; // after the bar
  const markers = (span.events || []).filter((e) => e.name === "exception").map((e) => {
    const mark = h("span", { class: "wf-event", title: `exception at +${formatDuration((e.timestamp_ns - t0) / 1e6)}` });
    mark.style.left = `${((e.timestamp_ns - t0) / total) * 100}%`;
    return mark;
  });
  return h("div", {
    class: `wf-row${isSelected ? " selected" : ""}${error ? " error" : ""}`,
    role: "treeitem",
    dataset: { spanId: span.span_id, depth: String(row.depth) },
    title: `${span.name} · ${span.span_type} · ${formatDuration(span.duration_ms)}`,
    onclick: () => actions.select(span.span_id),
  }, label, h("div", { class: "wf-track" }, bar, markers, duration));
}

function header(trace, backHash) {
  const info = trace.info;
  const usage = info.token_usage;
  const facts = [
    ["Started", h("span", { title: isoTime(info.start_time_ns) }, formatTime(info.start_time_ns))],
    ["Duration", formatDuration(info.duration_ms)],
    ["Tokens", h("span", { title: tokensTitle(usage) }, usage ? `${tokensText(usage)} (${formatNumber(usage.input_tokens)} in, ${formatNumber(usage.output_tokens)} out)` : "—")],
    ["Spans", formatNumber(info.span_count)],
    ["Trace id", h("span", { class: "mono" }, info.trace_id, " ", copyButton(info.trace_id))],
    info.client_request_id ? ["Request id", h("span", { class: "mono" }, info.client_request_id)] : null,
    info.session_id ? ["Session", h("a", { href: sessionHref(info.session_id) }, info.session_id)] : null,
    info.user_id ? ["User", info.user_id] : null,
    Object.keys(info.tags || {}).length ? ["Tags", h("span", {}, tagChips(info.tags))] : null,
  ].filter(Boolean);
  const metadata = Object.keys(info.metadata || {}).length
    ? h("details", { class: "section meta" }, h("summary", {}, h("span", { class: "section-title" }, "Metadata")), jsonTree(info.metadata))
    : null;
  return h("div", { class: "trace-header" },
    h("div", { class: "crumbs" }, h("a", { class: "back", href: backHash }, "← Traces")),
    h("h1", {}, h("span", { class: "trace-name" }, info.name), stateBadge(info.state),
      info.complete === false ? h("span", { class: "chip warn" }, `incomplete: ${info.incomplete_reason || "unknown"}`) : null),
    // Each label in one box with its value, so a line never breaks between them.
    h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v)))),
    h("div", { class: "previews" },
      preview("Request", info.request_preview, "trace-request"),
      preview("Response", info.response_preview, "trace-response", rootError(trace))),
    metadata);
}

function preview(title, text, cls, error) {
  const empty = text === null || text === undefined || text === "";
  return h("div", { class: `preview-box ${cls}` }, h("div", { class: "preview-title" }, title),
    !empty ? h("div", { class: "preview-text" }, text)
    : error ? h("div", { class: "muted error-text" }, error)
    : h("div", { class: "muted" }, "—"));
}

function rootError(trace) {
  if (trace.info.state !== "ERROR") return null;
  const root = trace.spans.find((s) => !s.parent_id) || trace.spans[0];
  return root ? root.status_message : null;
}

function spanDetail(span, t0, spans, select) {
  const usage = span.token_usage;
  const parent = spans.find((s) => s.span_id === span.parent_id);
  const facts = [
    ["Duration", formatDuration(span.duration_ms)],
    ["Starts at", `+${formatDuration((span.start_time_ns - t0) / 1e6)}`],
    span.model ? ["Model", span.model] : null,
    usage ? ["Tokens", `${formatNumber(usage.input_tokens)} in · ${formatNumber(usage.output_tokens)} out · ${formatNumber(usage.total_tokens)} total`] : null,
    ["Status", span.status + (span.status_message ? `: ${span.status_message}` : "")],
    ["Span id", h("span", { class: "mono" }, span.span_id)],
    parent ? ["Parent", h("button", { class: "link", type: "button", onclick: () => select(parent.span_id) }, parent.name)] : null,
    span.parent_is_remote ? ["Parent", h("span", { class: "mono" }, `${span.parent_id} (remote)`)] : null,
  ].filter(Boolean);
  const exception = (span.events || []).find((e) => e.name === "exception");
  return h("div", { class: "detail-inner", dataset: { spanId: span.span_id } },
    h("h2", {}, h("span", { class: "span-name" }, span.name), typeBadge(span.span_type), span.status === "ERROR" ? stateBadge("ERROR") : null),
    span.status === "ERROR" ? h("div", { class: "error-box" },
      exception ? `${exception.attributes["exception.type"] || "Error"}: ${exception.attributes["exception.message"] || ""}` : span.status_message || "error") : null,
    h("dl", { class: "facts compact" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    valueSection("Inputs", span.inputs, "io-inputs"),
    valueSection("Outputs", span.outputs, "io-outputs"),
    eventsSection(span.events || [], t0),
    attributesSection(span.attributes || {}));
}

function eventsSection(events, t0) {
  if (!events.length) return null;
  return h("details", { class: "section events", open: true },
    h("summary", {}, h("span", { class: "section-title" }, `Events (${events.length})`)),
    events.map((event) => {
      const attrs = { ...(event.attributes || {}) };
      const stack = attrs["exception.stacktrace"];
      delete attrs["exception.stacktrace"];
      return h("div", { class: `event${event.name === "exception" ? " exception" : ""}` },
        h("div", { class: "event-head" }, h("strong", {}, event.name), h("span", { class: "muted" }, ` +${formatDuration((event.timestamp_ns - t0) / 1e6)}`)),
        Object.keys(attrs).length ? attrTable(attrs) : null,
        stack ? stackBlock(stack) : null);
    }));
}

function attributesSection(attributes) {
  const keys = Object.keys(attributes);
  return h("details", { class: "section attributes", open: keys.length <= 12 },
    h("summary", {}, h("span", { class: "section-title" }, `Attributes (${keys.length})`)),
    keys.length ? attrTable(attributes) : h("p", { class: "muted" }, "none"));
}

function attrTable(attributes) {
  return h("table", { class: "attrs" }, h("tbody", {}, Object.keys(attributes).sort().map((key) => {
    const value = attributes[key];
    const parsed = typeof value === "object" && value !== null ? value : jsonText(value);
    return h("tr", {}, h("th", {}, key), h("td", {}, parsed !== undefined ? jsonTree(parsed) : h("span", { class: "attr-value" }, String(value))));
  })));
}

/** A string attribute holding a JSON object or array, parsed; else undefined. */
function jsonText(value) {
  if (typeof value !== "string" || !/^\s*[[{]/.test(value)) return undefined;
  try {
    const parsed = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}
