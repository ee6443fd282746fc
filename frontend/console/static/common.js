// What every console page shares: its embedded data, texts, REST calls with the session's token,
// toasts, optional browser notifications, the idle sign-out and small DOM helpers.
import { pageData } from "../live.js";

export const data = pageData("console-data") || {};
const texts = data.texts || {};

/** The page's text for `key` (console.js.* catalog), `{name}` placeholders filled from params. */
export function tr(key, params = {}) {
  const text = texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function loginUrl(reason) {
  const here = location.pathname + location.search;
  return `/login?reason=${reason}&next=${encodeURIComponent(here)}`;
}

export class NetworkError extends Error {}

/** A REST call on this origin with the session's token: {status, ok, body}. 401 sends to sign-in. */
/** With `contentType`, `body` is sent as it is (text) instead of as JSON. */
export async function api(method, url, body = undefined, { keepalive = false, contentType = null } = {}) {
  const headers = { Accept: "application/json" };
  if (data.token) headers.Authorization = `Bearer ${data.token}`;
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const sent = body === undefined || contentType ? body : JSON.stringify(body);
  let response;
  try {
    response = await fetch(url, { method, headers, keepalive, body: sent });
  } catch (error) {
    throw new NetworkError(String(error));
  }
  const payload = await response.json().catch(() => ({}));
  if (response.status === 401) {
    location.assign(loginUrl(/expired/.test(payload.message || "") ? "idle" : "signed_out"));
  }
  return { status: response.status, ok: response.ok, body: payload };
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The same text the server renders for a timestamp. */
export function timeEl(iso) {
  return iso ? el("time", { datetime: iso }, `${iso.slice(0, 16).replace("T", " ")} UTC`) : "—";
}

export function clock(iso) {
  const date = iso ? new Date(iso) : new Date();
  return date.toLocaleTimeString(document.documentElement.lang || undefined, { hour12: false });
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, dataset: { status } }, tr(`status.${status}`));
}

// -- toasts and browser notifications -----------------------------------------------------------

const NOTIFY_KEY = "slamon-console-notify";

export function toast(text, href = null) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = el("div", { class: "toast" }, href ? el("a", { href }, text) : text);
  box.append(item);
  setTimeout(() => item.remove(), 8000);
}

function notificationsOn() {
  return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) === "on";
}

/** A toast, and a browser notification when the person turned them on. */
export function announce(text, href = null) {
  toast(text, href);
  if (notificationsOn()) {
    const note = new Notification(document.title, { body: text, tag: href || text });
    if (href) note.onclick = () => { window.focus(); location.assign(href); };
  }
}

function setupNotifyToggle() {
  const button = document.getElementById("notify-toggle");
  if (!button || !("Notification" in window)) return;
  const render = () => {
    const on = notificationsOn();
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = tr(on ? "notify_disable" : "notify_enable");
  };
  button.hidden = false;
  render();
  button.addEventListener("click", async () => {
    if (notificationsOn()) {
      localStorage.setItem(NOTIFY_KEY, "off");
    } else if ((await Notification.requestPermission()) === "granted") {
      localStorage.setItem(NOTIFY_KEY, "on");
    }
    render();
  });
}

// -- idle sign-out (the API ends a session after the same time without use) ---------------------

function setupIdleLogout() {
  if (!data.user || !data.idleTimeoutS) return;
  let last = Date.now();
  for (const type of ["keydown", "pointerdown", "input", "wheel", "touchstart"]) {
    addEventListener(type, () => { last = Date.now(); }, { passive: true, capture: true });
  }
  setInterval(() => {
    if (Date.now() - last > data.idleTimeoutS * 1000) location.assign(loginUrl("idle"));
  }, 30_000);
}

export function setupCommon() {
  setupNotifyToggle();
  setupIdleLogout();
}

/** Show the API's field errors next to the fields (`data-error-for`) and as a list in `summary`. */
export function showFieldErrors(form, summary, details, prefix = "") {
  clearFieldErrors(form, summary);
  const items = [];
  let first = null;
  for (const detail of details) {
    const name = String(detail.field || "").split(".")[0];
    const label = texts[`fields.${name}`] || name;
    const holder = form.querySelector(`[data-error-for="${CSS.escape(prefix + name)}"]`);
    const control = form.elements.namedItem(name);
    const target = control instanceof RadioNodeList ? control[0] : control;
    if (holder) {
      holder.textContent = detail.message;
      holder.hidden = false;
    }
    if (target) {
      target.setAttribute("aria-invalid", "true");
      first = first || target;
    }
    items.push(el("li", {}, target && target.id ? el("a", { href: `#${target.id}` }, `${label}: ${detail.message}`)
      : `${label}: ${detail.message}`));
  }
  if (summary) {
    summary.replaceChildren(el("p", {}, tr("errors_title")), el("ul", {}, items));
    summary.hidden = false;
  }
  if (first) first.focus();
}

export function clearFieldErrors(form, summary) {
  for (const holder of form.querySelectorAll("[data-error-for]")) { holder.hidden = true; holder.textContent = ""; }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  if (summary) { summary.hidden = true; summary.replaceChildren(); }
}

export function showAlert(element, text) {
  if (!element) return;
  element.textContent = text;
  element.hidden = false;
}

/** The details of an error answer, or one detail carrying its message. */
export function detailsOf(body) {
  if (Array.isArray(body.details) && body.details.length) return body.details;
  return [{ field: "", message: body.message || body.error || "error" }];
}
