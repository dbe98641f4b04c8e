// DOM building and formatting. Every value from a trace reaches the page as a text node or
// a property (textContent, title, href built from encodeURIComponent): never as HTML.

const KNOWN_TYPES = new Set([
  "CHAIN", "LLM", "CHAT_MODEL", "RETRIEVER", "TOOL", "AGENT", "EMBEDDING", "RERANKER",
  "PARSER", "MEMORY", "GUARDRAIL", "EVALUATOR", "WORKFLOW", "TASK", "UNKNOWN",
]);

/** Create an element: h("a", {class: "x", href: "#/"}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "title") el.title = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "href") el.href = safeHref(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Only in-page links: every href this page makes starts with "#". */
function safeHref(value) {
  const text = String(value);
  return text.startsWith("#") ? text : "#";
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function traceHref(traceId, spanId) {
  const base = `#/trace/${encodeURIComponent(traceId)}`;
  return spanId ? `${base}/span/${encodeURIComponent(spanId)}` : base;
}

export function sessionHref(sessionId) {
  return `#/session/${encodeURIComponent(sessionId)}`;
}

/** The CSS class of a span type (custom types share one neutral colour). */
export function typeClass(spanType) {
  return KNOWN_TYPES.has(spanType) ? `t-${spanType}` : "t-OTHER";
}

export function typeBadge(spanType) {
  return h("span", { class: `type-badge ${typeClass(spanType)}` }, spanType || "UNKNOWN");
}

export function stateBadge(state) {
  const cls = state === "ERROR" ? "state err" : state === "OK" ? "state ok" : "state run";
  return h("span", { class: cls }, state);
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "running";
  if (ms >= 60000) {
    const minutes = Math.floor(ms / 60000);
    return `${minutes}m ${Math.round((ms % 60000) / 1000)}s`;
  }
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** "14:03:07.123", with the date when it is not today; "title" gives the full ISO time. */
export function formatTime(ns) {
  if (ns === null || ns === undefined) return "";
  const date = new Date(ns / 1e6);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return sameDay ? `${time}.${pad(date.getMilliseconds(), 3)}` : `${day} ${time}`;
}

export function isoTime(ns) {
  return ns === null || ns === undefined ? "" : new Date(ns / 1e6).toISOString();
}

export function formatNumber(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

export function tokensText(usage) {
  if (!usage) return "—";
  return formatNumber(usage.total_tokens);
}

export function tokensTitle(usage) {
  if (!usage) return "no token usage recorded";
  const details = [
    usage.cache_read_input_tokens ? `${formatNumber(usage.cache_read_input_tokens)} cached` : "",
    usage.cache_write_input_tokens ? `${formatNumber(usage.cache_write_input_tokens)} written to cache` : "",
    usage.reasoning_tokens ? `${formatNumber(usage.reasoning_tokens)} reasoning` : "",
  ].filter(Boolean);
  const base = `${formatNumber(usage.input_tokens)} in + ${formatNumber(usage.output_tokens)} out`;
  return details.length ? `${base} (${details.join(", ")})` : base;
}

/** A cost in US dollars; unknown (no price for the model) is a dash, never $0. */
export function costText(usd) {
  if (usd === null || usd === undefined) return "—";
  if (usd === 0) return "$0";
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** A preview for a table cell: one line, at most `max` characters. */
export function oneLine(text, max = 160) {
  if (text === null || text === undefined) return "";
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function tagChips(tags, onClick) {
  const entries = Object.entries(tags || {});
  return entries.map(([key, value]) => {
    const label = value ? `${key}=${value}` : key;
    return h("span", {
      class: "chip",
      title: onClick ? `Filter by ${label}` : label,
      onclick: onClick ? (event) => { event.stopPropagation(); onClick(label); } : null,
    }, label);
  });
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    if (button) {
      const old = button.textContent;
      button.textContent = "copied";
      setTimeout(() => { button.textContent = old; }, 1200);
    }
  } catch {
    // Clipboard refused (an insecure context or a denied permission): nothing to do.
  }
}

export function copyButton(text, label = "copy") {
  const button = h("button", { class: "mini", type: "button", title: "Copy to clipboard" }, label);
  button.addEventListener("click", (event) => { event.stopPropagation(); copyText(text, button); });
  return button;
}
