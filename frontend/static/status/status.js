// The status page, live: bar tooltips and keyboard navigation of the 90-day grids; Socket.IO events
// (PRD §5.2) applied without reload. A status change updates its service and the banner at once; a
// new or updated incident, a reconnect, and a minute's quiet re-fetch the page and swap its regions.
import { connectLive, pageData, showState } from "../live.js";

const REGIONS = ["banner", "active", "services", "past"];
const REFRESH_DEBOUNCE_MS = 150;
const QUIET_REFRESH_MS = 60_000;
const SEVERITY = { operational: 0, degraded: 1, outage: 2 };

let data = pageData("status-data");
let refreshTimer = null;
let quietTimer = null;

function format(text, params) {
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? params[name] : `{${name}}`));
}

function announce(message) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  window.setTimeout(() => { announcer.textContent = message; }, 50);
}

// ---- tooltips -----------------------------------------------------------------------------------

const tip = document.getElementById("bar-tip");

function tipContent(bar) {
  const texts = data.texts;
  const code = bar.dataset.code;
  const fragment = document.createDocumentFragment();
  const title = document.createElement("div");
  title.className = "tip-title";
  title.textContent = `${bar.dataset.day} · ${texts.day[code]} (${code})`;
  fragment.append(title);
  const list = document.createElement("dl");
  const row = (label, value) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    list.append(dt, dd);
  };
  row(texts.availability, bar.dataset.up ? `${bar.dataset.up}%` : texts.no_data);
  row(texts.downtime, bar.dataset.down);
  const ids = bar.dataset.inc ? bar.dataset.inc.split(" ") : [];
  if (ids.length) {
    const items = document.createElement("ul");
    for (const id of ids) {
      const li = document.createElement("li");
      const incident = data.incidents[id];
      li.textContent = incident ? `${incident.priority} ${incident.title}` : id;
      items.append(li);
    }
    row(texts.incidents, items);
  } else {
    row(texts.incidents, texts.no_incidents);
  }
  fragment.append(list);
  return fragment;
}

function showTip(bar) {
  tip.replaceChildren(tipContent(bar));
  tip.hidden = false;
  bar.setAttribute("aria-describedby", "bar-tip");
  const rect = bar.getBoundingClientRect();
  const width = tip.offsetWidth;
  const left = Math.min(Math.max(8, rect.left + rect.width / 2 - width / 2), document.documentElement.clientWidth - width - 8);
  tip.style.left = `${left + window.scrollX}px`;
  tip.style.top = `${rect.bottom + window.scrollY + 6}px`;
}

function hideTip() {
  tip.hidden = true;
  document.querySelectorAll('.bar[aria-describedby="bar-tip"]').forEach((b) => b.removeAttribute("aria-describedby"));
}

// ---- keyboard: one tab stop per grid, arrows move between visible days ------------------------------

function visibleBars(grid) {
  return [...grid.querySelectorAll(".bar")].filter((b) => b.offsetParent !== null);
}

function focusBar(grid, bar) {
  grid.querySelectorAll(".bar").forEach((b) => { b.tabIndex = -1; });
  bar.tabIndex = 0;
  bar.focus();
}

function onGridKey(event) {
  const bar = event.target instanceof Element ? event.target.closest(".grid .bar") : null;
  if (!bar) return;
  const grid = bar.parentElement;
  const bars = visibleBars(grid);
  const index = bars.indexOf(bar);
  const moves = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: bars.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = bars[Math.max(0, Math.min(bars.length - 1, moves[event.key]))];
  if (next) focusBar(grid, next);
}

function fixTabStops() {
  // The tab stop of each grid must be a visible bar (narrow screens hide the oldest 60 days).
  for (const grid of document.querySelectorAll(".grid")) {
    const current = grid.querySelector('.bar[tabindex="0"]');
    if (current && current.offsetParent !== null) continue;
    const bars = visibleBars(grid);
    if (current) current.tabIndex = -1;
    if (bars.length) bars[bars.length - 1].tabIndex = 0;
  }
}

function wireGrids() {
  // Delegated from the document, so that grids swapped in by a refresh need no wiring.
  const onBar = (handler) => (e) => { if (e.target instanceof Element && e.target.matches(".grid .bar")) handler(e.target); };
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideTip(); else onGridKey(e); });
  document.addEventListener("focusin", onBar(showTip));
  document.addEventListener("focusout", onBar(hideTip));
  document.addEventListener("mouseover", onBar(showTip));
  document.addEventListener("mouseout", onBar(hideTip));
  document.addEventListener("click", onBar(showTip));
  window.addEventListener("resize", fixTabStops);
  fixTabStops();
}

// ---- live updates -------------------------------------------------------------------------------

function updateBanner() {
  const states = [...document.querySelectorAll(".service .state")].map((s) => s.dataset.state);
  const worst = states.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "operational");
  const banner = document.getElementById("banner");
  if (banner.dataset.status === worst) return;
  banner.dataset.status = worst;
  banner.className = `banner b-${worst}`;
  banner.querySelector(".banner-text").textContent = data.texts.banner[worst];
}

function touchAsOf(timestamp) {
  const asOf = document.getElementById("as-of");
  if (!asOf || !timestamp) return;
  const when = new Date(timestamp);
  if (Number.isNaN(when.getTime()) || when <= new Date(asOf.getAttribute("datetime"))) return;
  asOf.setAttribute("datetime", when.toISOString());
}

function onStatusUpdate({ serviceId, status, timestamp }) {
  const row = document.querySelector(`.service[data-service="${CSS.escape(serviceId)}"]`);
  if (!row || !(status in SEVERITY)) return;
  const state = row.querySelector(".state");
  if (state.dataset.state === status) return;
  state.dataset.state = status;
  state.className = `state s-${status}`;
  state.textContent = data.texts.state[status];
  updateBanner();
  touchAsOf(timestamp);
  announce(format(data.texts.status_changed, { name: data.services[serviceId] || serviceId, state: data.texts.state[status] }));
}

function onUptimeUpdate({ serviceId, date, status }) {
  const bar = document.querySelector(`.service[data-service="${CSS.escape(serviceId)}"] .bar[data-day="${CSS.escape(date)}"]`);
  if (!bar || !(status in data.texts.day)) return;
  bar.dataset.code = status;
  bar.className = `bar d-${status}`;
  bar.setAttribute("aria-label", `${date}: ${data.texts.day[status]}`);
}

function onIncident(key) {
  return (event) => {
    const title = event.incident?.title || data.incidents[event.incidentId]?.title;
    if (title) announce(format(data.texts[key], { title }));
    scheduleRefresh();
  };
}

function focusKey(element) {
  if (!element || element === document.body) return null;
  if (element.matches(".bar")) return { service: element.closest(".service").dataset.service, day: element.dataset.day };
  return element.id ? { id: element.id } : null;
}

function restoreFocus(key) {
  if (!key) return;
  const target = key.id ? document.getElementById(key.id)
    : document.querySelector(`.service[data-service="${CSS.escape(key.service)}"] .bar[data-day="${CSS.escape(key.day)}"]`);
  if (!target) return;
  if (target.matches(".bar")) focusBar(target.parentElement, target); else target.focus();
}

async function refresh() {
  refreshTimer = null;
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const focused = focusKey(document.activeElement);
  const liveState = document.querySelector(".live-state");
  hideTip();
  for (const id of REGIONS) {
    const next = fresh.getElementById(id);
    const current = document.getElementById(id);
    if (next && current) current.replaceWith(document.adoptNode(next));
  }
  // The connection state belongs to this page, not to the fetched copy.
  document.querySelector(".live-state").replaceWith(liveState);
  data = JSON.parse(fresh.getElementById("status-data").textContent);
  fixTabStops();
  restoreFocus(focused);
  scheduleQuietRefresh();
}

function scheduleRefresh() {
  if (refreshTimer === null) refreshTimer = window.setTimeout(() => refresh().catch(() => {}), REFRESH_DEBOUNCE_MS);
}

function scheduleQuietRefresh() {
  window.clearTimeout(quietTimer);
  quietTimer = window.setTimeout(scheduleRefresh, QUIET_REFRESH_MS);
}

wireGrids();
scheduleQuietRefresh();
connectLive({
  rooms: ["system-status", "incidents", "uptime"],
  handlers: {
    "status-update": onStatusUpdate,
    "uptime-updated": onUptimeUpdate,
    "incident-created": onIncident("incident_created"),
    "incident-updated": onIncident("incident_updated"),
  },
  onResync: scheduleRefresh,
  onState: showState(document.querySelector(".live-state"), data.texts.live),
});
