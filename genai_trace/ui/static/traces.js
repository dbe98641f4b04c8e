// The Traces page: filters, a table of traces newest first (or sorted by a column, on the
// server, so pages stay in order), keyset paging, live updates.
import { getJSON } from "./api.js";
import {
  clear, formatDuration, formatNumber, formatTime, h, isoTime, oneLine, sessionHref,
  costText, stateBadge, tagChips, tokensText, tokensTitle, traceHref,
} from "./dom.js";
import { feedbackBadge } from "./feedback.js";
import { setLive } from "./live.js";

const FILTERS = ["text", "state", "span_type", "since", "name", "tag", "session", "user"];
// genai_trace.SpanType's values (the API takes any text; these are the ones genai-trace writes).
const SPAN_TYPES = ["LLM", "CHAT_MODEL", "CHAIN", "AGENT", "TOOL", "RETRIEVER", "EMBEDDING", "RERANKER", "PARSER", "MEMORY", "GUARDRAIL", "EVALUATOR", "WORKFLOW", "TASK", "UNKNOWN"];
const SINCE = [["", "any time"], ["15m", "last 15 min"], ["1h", "last hour"], ["24h", "last 24 h"], ["7d", "last 7 days"]];
const POLL_MS = 2000;
const DEFAULT_LIMIT = 50;
// Sortable columns and the store's order_by for each; a first click sorts largest first
// (A to Z for names), a second click reverses.
const SORTS = { Time: "start_time", Name: "name", Duration: "duration", Tokens: "tokens" };

/** Mount the page in `main`; returns {update(params), stop()} for the router. */
export function tracesPage(main, params, names) {
  const state = {
    filters: readFilters(params),
    limit: Math.min(Math.max(Number(params.get("limit")) || DEFAULT_LIMIT, 1), 500),
    stack: [], // cursors of the pages before this one (keyset paging)
    before: params.get("before") || null,
    order: params.get("order") || "", // "" is newest first
    latestSeq: null,
    total: null,
    fresh: new Set(),
    timer: null,
    stopped: false,
    loading: 0,
  };
  const form = filterBar(state, names, () => apply());
  const banner = h("div", { class: "banner", hidden: true });
  const table = h("table", { class: "traces" });
  const pager = h("div", { class: "pager" });
  const error = h("div", { class: "error-box", hidden: true });
  clear(main).append(h("section", { class: "page traces-page" }, form, banner, error, h("div", { class: "table-wrap" }, table), pager));

  function apply() {
    state.stack = [];
    state.before = null;
    writeHash(state);
    load();
  }

  async function load() {
    const ticket = ++state.loading;
    try {
      const page = await getJSON("traces", query(state, { limit: state.limit, before: state.before, order: state.order }));
      if (ticket !== state.loading || state.stopped) return;
      if (page.total !== null && page.total !== undefined) state.total = page.total;
      if (state.latestSeq === null || !state.before) state.latestSeq = page.latest_seq;
      error.hidden = true;
      banner.hidden = true;
      renderTable(table, page.traces, state, (tag) => addTag(tag), (column) => sortBy(column));
      renderPager(pager, page, state, { older: () => go(page.next), newer: () => back(), first: () => apply() });
      setLive(true);
    } catch (exc) {
      if (ticket !== state.loading || state.stopped) return;
      error.hidden = false;
      error.textContent = exc.message;
      if (exc.status === 0) setLive(false);
    }
  }

  function go(cursor) {
    state.stack.push(state.before);
    state.before = cursor;
    writeHash(state);
    load();
  }

  function back() {
    state.before = state.stack.length ? state.stack.pop() : null;
    writeHash(state);
    load();
  }

  function sortBy(column) {
    const [current, direction] = orderOf(state.order);
    const next = current === column ? (direction === "DESC" ? "ASC" : "DESC") : column === "name" ? "ASC" : "DESC";
    state.order = column === "start_time" && next === "DESC" ? "" : `${column} ${next}`;
    apply();
  }

  function addTag(tag) {
    const input = form.querySelector("[name=tag]");
    input.value = tag;
    state.filters.tag = tag;
    apply();
  }

  async function poll() {
    if (state.stopped) return;
    try {
      if (state.latestSeq !== null) {
        const changes = await getJSON("traces/changes", query(state, { after_seq: state.latestSeq }));
        if (state.stopped) return;
        setLive(true);
        if (changes.traces.length) {
          for (const trace of changes.traces) state.fresh.add(trace.trace_id);
          if (!state.before) {
            await load();
          } else {
            banner.hidden = false;
            banner.replaceChildren(`${formatNumber(changes.traces.length)}${changes.more ? "+" : ""} new trace(s) since this page was loaded. `,
              h("button", { class: "link", type: "button", onclick: () => apply() }, "Show newest"));
          }
        }
        state.latestSeq = changes.latest_seq;
      }
    } catch (exc) {
      setLive(exc.status !== 0);
    }
    if (!state.stopped) state.timer = setTimeout(poll, POLL_MS);
  }

  load();
  state.timer = setTimeout(poll, POLL_MS);
  return {
    update(newParams) {
      state.filters = readFilters(newParams);
      for (const name of FILTERS) form.querySelector(`[name=${name}]`).value = state.filters[name] || "";
      state.limit = Math.min(Math.max(Number(newParams.get("limit")) || DEFAULT_LIMIT, 1), 500);
      state.before = newParams.get("before") || null;
      state.order = newParams.get("order") || "";
      state.stack = [];
      state.total = null;
      load();
    },
    stop() {
      state.stopped = true;
      clearTimeout(state.timer);
    },
  };
}

function readFilters(params) {
  const filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) || "";
  return filters;
}

function query(state, extra) {
  return { ...state.filters, ...extra };
}

/** [order_by, "ASC" | "DESC"] of the page's `order` ("" is newest first). */
function orderOf(order) {
  const [column, direction] = (order || "start_time DESC").split(" ");
  return [column, (direction || "DESC").toUpperCase()];
}

export function tracesHashFor(filters, before, limit, order) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
  if (limit && limit !== DEFAULT_LIMIT) params.set("limit", String(limit));
  if (order) params.set("order", order);
  if (before) params.set("before", before);
  const qs = params.toString();
  return `#/traces${qs ? `?${qs}` : ""}`;
}

function writeHash(state) {
  const hash = tracesHashFor(state.filters, state.before, state.limit, state.order);
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function filterBar(state, names, onApply) {
  let debounce = null;
  const field = (name, label, attrs) => h("label", { class: `field f-${name}` }, h("span", {}, label),
    h("input", { name, value: state.filters[name], autocomplete: "off", spellcheck: "false", ...attrs }));
  const stateSelect = h("select", { name: "state" },
    ["", "OK", "ERROR", "IN_PROGRESS"].map((s) => h("option", { value: s, selected: state.filters.state === s }, s || "any")));
  const datalist = h("datalist", { id: "trace-names" }, names.map((n) => h("option", { value: n })));
  const form = h("form", { class: "filters", autocomplete: "off" },
    h("label", { class: "field f-text" }, h("span", {}, "Search"),
      h("input", { name: "text", type: "search", value: state.filters.text, placeholder: "request, response, name or trace id", spellcheck: "false" })),
    h("label", { class: "field f-state" }, h("span", {}, "State"), stateSelect),
    h("label", { class: "field f-span_type" }, h("span", {}, "Span type"), h("select", { name: "span_type" },
      ["", ...SPAN_TYPES].map((t) => h("option", { value: t, selected: state.filters.span_type === t }, t || "any")))),
    h("label", { class: "field f-since" }, h("span", {}, "Started"), h("select", { name: "since" },
      SINCE.map(([value, label]) => h("option", { value, selected: state.filters.since === value }, label)))),
    field("name", "Name", { list: "trace-names", placeholder: "any" }),
    field("tag", "Tag", { placeholder: "key=value" }),
    field("session", "Session", { placeholder: "any" }),
    field("user", "User", { placeholder: "any" }),
    datalist,
    h("button", { type: "button", class: "mini clear", onclick: () => {
      for (const input of form.querySelectorAll("input, select")) input.value = "";
      sync();
    } }, "Clear"));
  const sync = () => {
    for (const name of FILTERS) state.filters[name] = form.querySelector(`[name=${name}]`).value.trim();
    onApply();
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(debounce); sync(); });
  form.addEventListener("change", () => { clearTimeout(debounce); sync(); });
  form.addEventListener("input", (event) => {
    if (event.target.name !== "text") return;
    clearTimeout(debounce);
    debounce = setTimeout(sync, 350);
  });
  return form;
}

const COLUMNS = ["Time", "Name", "State", "Duration", "Tokens", "Cost", "Request", "Response", "Feedback", "Tags", "Session", "User"];

function renderTable(table, traces, state, onTag, onSort) {
  const head = h("thead", {}, h("tr", {}, COLUMNS.map((c) => columnHead(c, state.order, onSort))));
  const body = h("tbody", {});
  for (const info of traces) body.appendChild(traceRow(info, state, onTag));
  table.replaceChildren(head, body);
  if (!traces.length) {
    const filtered = FILTERS.some((n) => state.filters[n]);
    body.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: COLUMNS.length },
      filtered ? "No trace matches these filters." : "No traces yet. Run your traced code: new traces appear here within seconds.")));
  }
  state.fresh.clear();
}

function columnHead(label, order, onSort) {
  const column = SORTS[label];
  const cls = `c-${label.toLowerCase()}`;
  if (!column) return h("th", { class: cls }, label);
  const [sorted, direction] = orderOf(order);
  const on = sorted === column;
  const next = on ? (direction === "DESC" ? "ascending" : "descending") : column === "name" ? "A to Z" : "descending";
  return h("th", { class: `${cls} sortable${on ? " sorted" : ""}`, "aria-sort": on ? (direction === "DESC" ? "descending" : "ascending") : "none" },
    h("button", { type: "button", class: "sort", title: `Sort by ${label.toLowerCase()}, ${next}`, onclick: () => onSort(column) },
      label, h("span", { class: "sort-mark" }, on ? (direction === "DESC" ? " ▼" : " ▲") : "")));
}

function traceRow(info, state, onTag) {
  const open = () => { location.hash = traceHref(info.trace_id); };
  const request = info.request_preview ?? "";
  const response = info.response_preview ?? "";
  const row = h("tr", {
    class: `${info.state === "ERROR" ? "row-error" : ""} ${state.fresh.has(info.trace_id) ? "fresh" : ""}`.trim() || null,
    dataset: { traceId: info.trace_id },
    tabindex: 0,
    onclick: open,
    onkeydown: (e) => { if (e.key === "Enter") open(); },
  },
  h("td", { class: "c-time", title: isoTime(info.start_time_ns) }, formatTime(info.start_time_ns)),
  h("td", { class: "c-name" }, h("a", { href: traceHref(info.trace_id), title: info.trace_id }, info.name),
    info.complete === false ? h("span", { class: "chip warn", title: `incomplete: ${info.incomplete_reason || "?"}` }, "partial") : null),
  h("td", { class: "c-state" }, stateBadge(info.state)),
  h("td", { class: "c-duration num" }, formatDuration(info.duration_ms)),
  h("td", { class: "c-tokens num", title: tokensTitle(info.token_usage) }, tokensText(info.token_usage)),
  h("td", { class: "c-cost num", title: info.cost_usd == null ? "cost unknown" : `$${info.cost_usd}` }, costText(info.cost_usd)),
  h("td", { class: "c-request preview", title: request }, oneLine(request)),
  h("td", { class: "c-response preview", title: response || info.error_message || "" }, response || !info.error_message
    ? oneLine(response)
    : h("span", { class: "muted error-text" }, oneLine(info.error_message))),
  h("td", { class: "c-feedback" }, feedbackBadge(info.feedback)),
  h("td", { class: "c-tags", title: Object.entries(info.tags || {}).map(([k, v]) => `${k}=${v}`).join("\n") }, tagChips(info.tags, onTag)),
  h("td", { class: "c-session" }, info.session_id
    ? h("a", { href: sessionHref(info.session_id), title: `Session ${info.session_id}`, onclick: (e) => e.stopPropagation() }, info.session_id)
    : ""),
  h("td", { class: "c-user" }, info.user_id ?? ""));
  return row;
}

function renderPager(pager, page, state, actions) {
  const shown = page.traces.length;
  const from = state.stack.length * state.limit;
  const total = state.total;
  const sorted = Boolean(state.order); // pages in a column's order, not newest first
  const summary = state.before && !state.stack.length
    ? `${formatNumber(shown)} ${sorted ? "more" : "older"} traces`
    : shown
    ? `${formatNumber(from + 1)}–${formatNumber(from + shown)}${total !== null ? ` of ${formatNumber(total)}` : ""}`
    : total ? `0 of ${formatNumber(total)}` : "";
  pager.replaceChildren(
    h("span", { class: "muted" }, summary),
    h("span", { class: "spacer" }),
    h("button", { type: "button", class: "mini", disabled: !state.before, onclick: actions.first }, sorted ? "⇤ First" : "⇤ Newest"),
    h("button", { type: "button", class: "mini", disabled: !state.before, onclick: actions.newer }, sorted ? "← Previous" : "← Newer"),
    h("button", { type: "button", class: "mini", disabled: !page.next, onclick: actions.older }, sorted ? "Next →" : "Older →"));
}
