// Sessions: the list of recent sessions, and one session's traces in order as a conversation.
import { getJSON } from "./api.js";
import {
  clear, formatDuration, formatNumber, formatTime, h, isoTime, sessionHref, stateBadge,
  tokensText, tokensTitle, traceHref,
} from "./dom.js";

/** Mount the list of recent sessions. */
export function sessionsPage(main) {
  const body = h("tbody", {});
  clear(main).append(h("section", { class: "page sessions-page" },
    h("h1", {}, "Sessions"),
    h("p", { class: "muted" }, "Traces grouped by session id (genai_trace.context(session_id=...)), most recently active first."),
    h("div", { class: "table-wrap" }, h("table", { class: "traces sessions" },
      h("thead", {}, h("tr", {}, ["Session", "User", "Traces", "Errors", "Tokens", "First", "Last"].map((c) => h("th", {}, c)))),
      body))));
  getJSON("sessions", { limit: 200 }).then((data) => {
    if (!data.sessions.length) {
      body.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: 7 }, "No sessions yet: traces get one with genai_trace.context(session_id=...).")));
    }
    for (const s of data.sessions) {
      const open = () => { location.hash = sessionHref(s.session_id); };
      body.appendChild(h("tr", { tabindex: 0, onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); }, dataset: { sessionId: s.session_id } },
        h("td", {}, h("a", { href: sessionHref(s.session_id) }, s.session_id)),
        h("td", { class: "c-user" }, (s.user_ids || []).join(", ")),
        h("td", { class: "num" }, formatNumber(s.traces)),
        h("td", { class: "num" }, s.errors ? h("span", { class: "state err" }, formatNumber(s.errors)) : "0"),
        h("td", { class: "num" }, formatNumber(s.total_tokens)),
        h("td", { title: isoTime(s.first_start_ns) }, formatTime(s.first_start_ns)),
        h("td", { title: isoTime(s.last_start_ns) }, formatTime(s.last_start_ns))));
    }
  }, (exc) => body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "error-box" }, exc.message))));
  return { stop() {} };
}

/** Mount one session: its traces in start order, each as a user turn and an answer. */
export function sessionPage(main, sessionId) {
  clear(main).append(h("p", { class: "empty" }, "Loading session…"));
  getJSON(`sessions/${encodeURIComponent(sessionId)}`).then((data) => {
    const traces = data.traces;
    const tokens = traces.reduce((sum, t) => sum + ((t.token_usage && t.token_usage.total_tokens) || 0), 0);
    const users = [...new Set(traces.map((t) => t.user_id).filter(Boolean))];
    const errors = traces.filter((t) => t.state === "ERROR").length;
    clear(main).append(h("section", { class: "page session-page", dataset: { sessionId } },
      h("div", { class: "crumbs" }, h("a", { class: "back", href: "#/sessions" }, "← Sessions")),
      h("h1", {}, "Session ", h("span", { class: "mono" }, sessionId)),
      h("dl", { class: "facts" },
        h("dt", {}, "Traces"), h("dd", {}, `${formatNumber(data.total)}${data.truncated ? ` (first ${traces.length} shown)` : ""}`),
        h("dt", {}, "User"), h("dd", {}, users.join(", ") || "—"),
        h("dt", {}, "Tokens"), h("dd", {}, formatNumber(tokens)),
        h("dt", {}, "Errors"), h("dd", {}, formatNumber(errors)),
        h("dt", {}, "From"), h("dd", { title: isoTime(traces[0].start_time_ns) }, formatTime(traces[0].start_time_ns))),
      h("div", { class: "conversation" }, traces.map(turn))));
  }, (exc) => {
    clear(main).append(h("section", { class: "page" },
      h("a", { class: "back", href: "#/sessions" }, "← Sessions"),
      h("div", { class: "error-box" }, exc.status === 404 ? `No session ${sessionId} in this store.` : exc.message)));
  });
  return { stop() {} };
}

function turn(info, index) {
  const error = info.state === "ERROR";
  return h("article", { class: `turn${error ? " error" : ""}`, dataset: { traceId: info.trace_id } },
    h("div", { class: "turn-meta" },
      h("span", { class: "turn-index" }, `#${index + 1}`),
      h("span", { title: isoTime(info.start_time_ns) }, formatTime(info.start_time_ns)),
      h("a", { href: traceHref(info.trace_id) }, info.name),
      stateBadge(info.state),
      h("span", {}, formatDuration(info.duration_ms)),
      h("span", { title: tokensTitle(info.token_usage) }, `${tokensText(info.token_usage)} tokens`)),
    h("div", { class: "bubble role-user" }, h("div", { class: "role" }, info.user_id || "user"),
      h("div", { class: "text" }, info.request_preview ?? "—")),
    h("div", { class: `bubble role-assistant${error ? " role-error" : ""}` }, h("div", { class: "role" }, error ? "error" : "assistant"),
      h("div", { class: "text" }, info.response_preview ?? (error ? "(the trace ended in an error; open it for the stack trace)" : "—"))));
}
