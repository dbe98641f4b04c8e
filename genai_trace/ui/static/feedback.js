// Feedback on traces: the badge of the Traces page, the trace view's panel, and (only when
// the server runs with --allow-feedback) a thumbs up or down with a short comment.
import { ApiError, getJSON } from "./api.js";
import { formatTime, h } from "./dom.js";

let config = null; // a promise of {allow_feedback, csrf_token}, asked once per page load

function viewerConfig() {
  if (!config) config = getJSON("config").catch(() => ({ allow_feedback: false, csrf_token: null }));
  return config;
}

function valueText(value) {
  if (value === true) return "👍";
  if (value === false) return "👎";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The Traces page's cell: thumbs counted, other feedback named; "" when there is none. */
export function feedbackBadge(feedback) {
  const judged = (feedback || []).filter((f) => f.kind === "feedback");
  if (!judged.length) return "";
  const up = judged.filter((f) => f.value === true).length;
  const down = judged.filter((f) => f.value === false).length;
  const others = judged.filter((f) => typeof f.value !== "boolean");
  const title = judged.map((f) => `${f.name}: ${valueText(f.value)}${f.rationale ? ` (${f.rationale})` : ""}`).join("\n");
  return h("span", { class: "fb-badge", title },
    up ? h("span", { class: "fb-up" }, `👍 ${up}`) : null,
    down ? h("span", { class: "fb-down" }, `👎 ${down}`) : null,
    others.length ? h("span", { class: "fb-other" }, others.length === 1 ? `${others[0].name}: ${valueText(others[0].value)}` : `${others.length} more`) : null);
}

/** The trace view's panel: every feedback and expectation, and the form when allowed. */
export function feedbackPanel(trace) {
  const list = h("ul", { class: "fb-list" });
  const panel = h("div", { class: "panel feedback-panel" }, h("div", { class: "panel-title" }, "Feedback"), list);
  const items = [...(trace.feedback || [])];
  const draw = () => {
    list.replaceChildren(...(items.length ? items.map(feedbackItem) : [h("li", { class: "muted fb-none" }, "No feedback yet.")]));
  };
  draw();
  viewerConfig().then((cfg) => {
    if (cfg.allow_feedback) panel.append(feedbackForm(trace.info.trace_id, cfg.csrf_token, (fb) => { items.push(fb); draw(); }));
  });
  return panel;
}

function feedbackItem(fb) {
  const who = `${fb.source.type.toLowerCase().replace("_", " ")} ${fb.source.id}`;
  return h("li", { class: `fb-item fb-${fb.kind}`, dataset: { name: fb.name } },
    h("span", { class: "fb-name" }, fb.kind === "expectation" ? `expected ${fb.name}` : fb.name),
    h("span", { class: "fb-value" }, valueText(fb.value)),
    fb.rationale ? h("span", { class: "fb-rationale" }, fb.rationale) : null,
    h("span", { class: "muted fb-who", title: formatTime(fb.created_ns) }, who),
    fb.span_id ? h("span", { class: "muted mono" }, `span ${fb.span_id}`) : null);
}

function feedbackForm(traceId, token, onSaved) {
  const comment = h("input", { class: "fb-comment", name: "comment", maxlength: 1000, placeholder: "a short comment (optional)", autocomplete: "off" });
  const status = h("span", { class: "muted fb-status", role: "status" });
  const send = async (value) => {
    status.textContent = "saving…";
    try {
      const saved = await postFeedback(traceId, token, { value, comment: comment.value });
      comment.value = "";
      status.textContent = "saved";
      onSaved(saved.feedback);
    } catch (exc) {
      status.textContent = exc.message;
    }
  };
  return h("div", { class: "fb-form" },
    h("button", { type: "button", class: "mini fb-give-up", title: "Thumbs up", onclick: () => send(true) }, "👍"),
    h("button", { type: "button", class: "mini fb-give-down", title: "Thumbs down", onclick: () => send(false) }, "👎"),
    comment, status);
}

async function postFeedback(traceId, token, body) {
  let response;
  try {
    response = await fetch(`/api/traces/${encodeURIComponent(traceId)}/feedback`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token || "" },
      body: JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("the genai-trace ui server is not reachable (stopped?)", 0);
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(answer && answer.error ? answer.error : `HTTP ${response.status}`, response.status);
  return answer;
}
