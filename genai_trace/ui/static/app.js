// The viewer's entry point: hash routes, so every view has a link.
//   #/traces?state=ERROR&text=...     the Traces page (filters in the link)
//   #/trace/<id>  #/trace/<id>/span/<span id>
//   #/sessions  #/session/<id>  #/dashboard?range=24h
import { getJSON } from "./api.js";
import { dashboardPage } from "./dashboard.js";
import { setLive } from "./live.js";
import { sessionPage, sessionsPage } from "./sessions.js";
import { tracePage } from "./trace.js";
import { tracesPage } from "./traces.js";

const main = document.getElementById("main");
let current = null; // {kind, view}
let names = [];
let lastTracesHash = "#/traces";

function parse(hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?", 2);
  const parts = path.split("/").map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  return { parts, params: new URLSearchParams(qs || "") };
}

function route() {
  const { parts, params } = parse(location.hash);
  const [kind, id, sub, subId] = parts;
  if (kind === "trace" && id) {
    const spanId = sub === "span" ? subId : null;
    if (current && current.kind === "trace" && current.view.traceId === id) {
      current.view.select(spanId, false);
      return;
    }
    show("trace", () => tracePage(main, id, spanId, lastTracesHash));
  } else if (kind === "session" && id) {
    show("session", () => sessionPage(main, id));
  } else if (kind === "sessions") {
    show("sessions", () => sessionsPage(main));
  } else if (kind === "dashboard") {
    show("dashboard", () => dashboardPage(main, params));
  } else {
    lastTracesHash = location.hash.startsWith("#/traces") ? location.hash : "#/traces";
    if (current && current.kind === "traces") {
      current.view.update(params);
      return;
    }
    show("traces", () => tracesPage(main, params, names));
  }
}

function show(kind, make) {
  if (current) current.view.stop();
  current = { kind, view: make() };
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("on", link.dataset.nav === kind || (kind === "trace" && link.dataset.nav === "traces") || (kind === "session" && link.dataset.nav === "sessions"));
  }
  window.scrollTo(0, 0);
}

// The traces page rewrites its own link (filters, page) without a hashchange.
window.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href^='#/trace/']");
  if (link && location.hash.startsWith("#/traces")) lastTracesHash = location.hash;
});
window.addEventListener("hashchange", route);

async function start() {
  try {
    const stats = await getJSON("stats");
    names = (stats.top_names || []).map((pair) => pair[0]);
    document.getElementById("store-path").textContent = stats.store || "";
    document.getElementById("store-path").title = "The local trace store this viewer reads";
    setLive(true);
  } catch {
    setLive(false);
  }
  route();
}

start();
