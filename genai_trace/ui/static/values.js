// Inputs and outputs: a collapsible JSON tree, and chat messages shown as a conversation.
import { copyButton, h } from "./dom.js";

const OPEN_DEPTH = 2; // objects nested deeper start collapsed

/** A collapsible, pretty-printed tree of any JSON value. */
export function jsonTree(value) {
  return h("div", { class: "json" }, node(value, 0));
}

function node(value, depth) {
  if (value === null) return h("span", { class: "j-null" }, "null");
  if (typeof value === "string") return h("span", { class: "j-str" }, stringLiteral(value));
  if (typeof value === "number") return h("span", { class: "j-num" }, String(value));
  if (typeof value === "boolean") return h("span", { class: "j-bool" }, String(value));
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return h("span", { class: "j-punct" }, `${open}${close}`);
  const count = isArray ? `${entries.length} item${entries.length === 1 ? "" : "s"}` : `${entries.length} key${entries.length === 1 ? "" : "s"}`;
  const details = h("details", { class: "j-node", open: depth < OPEN_DEPTH });
  details.appendChild(h("summary", {}, h("span", { class: "j-punct" }, open), h("span", { class: "j-count" }, ` ${count} `), h("span", { class: "j-punct j-close-inline" }, close)));
  const list = h("div", { class: "j-children" });
  for (const [key, child] of entries) {
    list.appendChild(h("div", { class: "j-row" },
      isArray ? null : h("span", { class: "j-key" }, JSON.stringify(String(key))),
      isArray ? null : h("span", { class: "j-punct" }, ": "),
      node(child, depth + 1)));
  }
  details.appendChild(list);
  details.appendChild(h("span", { class: "j-punct j-close" }, close));
  return details;
}

// Strings keep their line breaks (prompts read better that way); other control characters
// are shown escaped.
function stringLiteral(value) {
  const escaped = value.replace(/[\u0000-\u0009\u000b-\u001f\\"]/g, (c) => JSON.stringify(c).slice(1, -1));
  return `"${escaped}"`;
}

/** The value as chat messages [{role, content, extras}] when it has that shape, else null. */
export function chatMessages(value) {
  if (value === null || typeof value !== "object") return null;
  let list = null;
  if (Array.isArray(value)) list = value;
  else if (Array.isArray(value.messages)) list = value.messages;
  else if (Array.isArray(value.choices) && value.choices.length) list = value.choices.map((c) => (c && c.message) || c);
  else if (typeof value.role === "string") list = [value];
  if (!list || list.length === 0) return null;
  const messages = [];
  for (const item of list) {
    if (!item || typeof item !== "object" || typeof item.role !== "string") return null;
    messages.push({ role: item.role, parts: messageParts(item) });
  }
  return messages;
}

function messageParts(message) {
  const parts = [];
  const content = message.content;
  if (typeof content === "string") parts.push({ kind: "text", text: content });
  else if (Array.isArray(content)) for (const part of content) parts.push(contentPart(part));
  if (Array.isArray(message.parts)) for (const part of message.parts) parts.push(contentPart(part));
  for (const call of message.tool_calls || []) {
    const fn = (call && call.function) || call || {};
    parts.push({ kind: "call", name: fn.name || "tool", text: argumentsText(fn.arguments) });
  }
  if (message.tool_call_id) parts.unshift({ kind: "note", text: `result of ${message.tool_call_id}` });
  if (message.finish_reason && message.finish_reason !== "stop") parts.push({ kind: "note", text: `finish: ${message.finish_reason}` });
  return parts;
}

function contentPart(part) {
  if (typeof part === "string") return { kind: "text", text: part };
  if (!part || typeof part !== "object") return { kind: "text", text: String(part) };
  const type = part.type;
  if (type === "tool_call") return { kind: "call", name: part.name || "tool", text: argumentsText(part.arguments) };
  if (type === "tool_call_response") return { kind: "text", text: typeof part.response === "string" ? part.response : JSON.stringify(part.response, null, 2) };
  if (typeof part.content === "string") return { kind: "text", text: part.content };
  if (typeof part.text === "string") return { kind: "text", text: part.text };
  return { kind: "text", text: JSON.stringify(part, null, 2) };
}

function argumentsText(args) {
  if (typeof args !== "string") return JSON.stringify(args ?? {}, null, 2);
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

/** Messages as a conversation: one bubble per message, coloured by role. */
export function conversation(messages) {
  return h("div", { class: "chat" }, messages.map((m) => h("div", { class: `bubble role-${roleClass(m.role)}` },
    h("div", { class: "role" }, m.role),
    m.parts.map((p) => p.kind === "call"
      ? h("div", { class: "call" }, h("span", { class: "call-name" }, `→ ${p.name}`), h("pre", {}, p.text))
      : p.kind === "note" ? h("div", { class: "note" }, p.text) : h("div", { class: "text" }, p.text)))));
}

function roleClass(role) {
  return ["user", "assistant", "system", "tool", "developer"].includes(role) ? role : "other";
}

/** A titled, collapsible block for inputs or outputs, with a Chat/JSON switch when it fits. */
export function valueSection(title, value, className) {
  const body = h("div", { class: "value-body" });
  const messages = chatMessages(value);
  const header = h("summary", {}, h("span", { class: "section-title" }, title));
  const section = h("details", { class: `section ${className}`, open: true }, header, body);
  if (value === null || value === undefined) {
    body.appendChild(h("p", { class: "muted" }, "none recorded"));
    return section;
  }
  const views = { json: () => (typeof value === "string" ? h("pre", { class: "plain" }, value) : jsonTree(value)) };
  if (messages) views.chat = () => conversation(messages);
  const tools = h("span", { class: "section-tools" });
  let current = messages ? "chat" : "json";
  const show = (name) => {
    current = name;
    body.replaceChildren(views[name]());
    for (const button of tools.querySelectorAll("button[data-view]")) button.classList.toggle("on", button.dataset.view === name);
  };
  if (messages) {
    for (const name of ["chat", "json"]) {
      tools.appendChild(h("button", { class: "mini", type: "button", dataset: { view: name }, onclick: (e) => { e.preventDefault(); show(name); } }, name === "chat" ? "Chat" : "JSON"));
    }
  }
  tools.appendChild(copyButton(typeof value === "string" ? value : JSON.stringify(value, null, 2)));
  header.appendChild(tools);
  show(current);
  return section;
}
