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

// ---- tooltips and keyboard: one tab stop per grid; arrows, Home and End move the current day ----
// A grid is a row of bare cells <i class="d-CODE">, oldest first; the figures of each day come from
// data.grids[serviceId] (sparse: a day not listed had 100 % availability or no checks, 0m downtime).

const tip = document.getElementById("bar-tip");

function dayOf(first, index) {
  const day = new Date(`${first}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + index);
  return day.toISOString().slice(0, 10);
}

function cellCode(cell) {
  return cell.className.split(" ").find((c) => c.startsWith("d-")).slice(2);
}

function tipContent(serviceId, index, code) {
  const texts = data.texts;
  const grid = data.grids[serviceId];
  const fragment = document.createDocumentFragment();
  const title = document.createElement("div");
  title.className = "tip-title";
  title.textContent = `${data.services[serviceId]} · ${dayOf(grid.first, index)} · ${texts.day[code]} (${code})`;
  fragment.append(title);
  const list = document.createElement("dl");
  const row = (label, value) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    list.append(dt, dd);
  };
  const uptime = grid.up[index] ?? (grid.full.includes(index) ? "100.00" : null);
  row(texts.availability, uptime ? `${uptime}%` : texts.no_data);
  row(texts.downtime, grid.down[index] ?? "0m");
  const ids = grid.inc[index] || [];
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

function showTip(grid, index) {
  const cells = grid.children;
  const cell = cells[index];
  if (!cell) return;
  for (const c of grid.querySelectorAll("i.current")) c.classList.remove("current");
  cell.classList.add("current");
  grid.dataset.index = String(index);
  const serviceId = grid.closest(".service").dataset.service;
  tip.replaceChildren(tipContent(serviceId, index, cellCode(cell)));
  tip.hidden = false;
  const rect = cell.getBoundingClientRect();
  const width = tip.offsetWidth;
  const left = Math.min(Math.max(8, rect.left + rect.width / 2 - width / 2), document.documentElement.clientWidth - width - 8);
  tip.style.left = `${left + window.scrollX}px`;
  tip.style.top = `${rect.bottom + window.scrollY + 6}px`;
}

function hideTip() {
  tip.hidden = true;
  for (const c of document.querySelectorAll(".grid i.current")) c.classList.remove("current");
}

function visibleRange(grid) {
  // Narrow screens hide the oldest days: the first visible cell is the lower bound.
  const cells = [...grid.children];
  const first = cells.findIndex((c) => c.offsetParent !== null);
  return [Math.max(0, first), cells.length - 1];
}

function onGridKey(event) {
  const grid = event.target instanceof Element ? event.target.closest(".grid") : null;
  if (!grid || event.target !== grid) return;
  const [lo, hi] = visibleRange(grid);
  const index = Math.min(hi, Math.max(lo, Number(grid.dataset.index)));
  const moves = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: lo, End: hi };
  if (!(event.key in moves)) return;
  event.preventDefault();
  showTip(grid, Math.min(hi, Math.max(lo, moves[event.key])));
}

function wireGrids() {
  // Delegated from the document, so that grids swapped in by a refresh need no wiring.
  const cellOf = (e) => (e.target instanceof Element && e.target.matches(".grid i") ? e.target : null);
  const show = (e) => {
    const cell = cellOf(e);
    if (cell) showTip(cell.parentElement, [...cell.parentElement.children].indexOf(cell));
  };
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideTip(); else onGridKey(e); });
  document.addEventListener("focusin", (e) => {
    if (e.target instanceof Element && e.target.matches(".grid")) {
      const [lo, hi] = visibleRange(e.target);
      showTip(e.target, Math.min(hi, Math.max(lo, Number(e.target.dataset.index))));
    }
  });
  document.addEventListener("focusout", (e) => { if (e.target instanceof Element && e.target.matches(".grid")) hideTip(); });
  document.addEventListener("mouseover", show);
  document.addEventListener("mouseout", (e) => { if (cellOf(e) && document.activeElement !== cellOf(e).parentElement) hideTip(); });
  document.addEventListener("click", show);
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
  const grid = document.querySelector(`.service[data-service="${CSS.escape(serviceId)}"] .grid`);
  const details = data.grids[serviceId];
  if (!grid || !details || !(status in data.texts.day)) return;
  const index = Math.round((Date.parse(`${date}T00:00:00Z`) - Date.parse(`${details.first}T00:00:00Z`)) / 86_400_000);
  const cell = grid.children[index];
  if (!cell) return;
  const current = cell.classList.contains("current");
  cell.className = `d-${status}${current ? " current" : ""}`;
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
  if (element.matches(".grid")) return { service: element.closest(".service").dataset.service, index: element.dataset.index };
  return element.id ? { id: element.id } : null;
}

function restoreFocus(key) {
  if (!key) return;
  const target = key.id ? document.getElementById(key.id)
    : document.querySelector(`.service[data-service="${CSS.escape(key.service)}"] .grid`);
  if (!target) return;
  if (key.index !== undefined) target.dataset.index = key.index;
  target.focus();
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
