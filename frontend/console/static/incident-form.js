// The incident fields form (create page and the detail page's edit form): values in and out, the
// priority suggested from severity, server-side drafts saved every 30 s, Ctrl+S / Esc.
import { api, clock, NetworkError, tr } from "./common.js";

export const FIELDS = ["title", "description", "severity", "priority", "affected_services", "reporter", "detection_criteria"];
const SUGGESTED_PRIORITY = { critical: "P1", high: "P2", medium: "P3", low: "P3" };
export const AUTOSAVE_MS = 30_000;

/** API (camelCase) incident -> form field values. */
export function valuesOf(incident) {
  return {
    title: incident.title ?? "", description: incident.description ?? "", severity: incident.severity ?? "",
    priority: incident.priority ?? "", affected_services: [...(incident.affectedServices || [])],
    reporter: incident.reporter ?? "", detection_criteria: incident.detectionCriteria ?? "",
  };
}

export function sameValue(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return JSON.stringify([...(a || [])].sort()) === JSON.stringify([...(b || [])].sort());
  }
  return (a ?? "") === (b ?? "");
}

export function readForm(form) {
  const values = {};
  for (const name of FIELDS) {
    if (name === "affected_services") {
      values[name] = [...form.querySelectorAll('input[name="affected_services"]:checked')].map((box) => box.value);
    } else {
      values[name] = form.elements.namedItem(name).value;
    }
  }
  const note = form.elements.namedItem("note");
  if (note) values.note = note.value;
  return values;
}

export function writeForm(form, values) {
  for (const name of FIELDS) {
    if (!(name in values) || values[name] === undefined || values[name] === null) continue;
    if (name === "affected_services") {
      for (const box of form.querySelectorAll('input[name="affected_services"]')) box.checked = values[name].includes(box.value);
    } else {
      const control = form.elements.namedItem(name);
      if (control.tagName === "SELECT" && values[name] && !control.querySelector(`option[value="${CSS.escape(values[name])}"]`)) continue;
      control.value = values[name];
    }
  }
  if ("note" in values && form.elements.namedItem("note")) form.elements.namedItem("note").value = values.note ?? "";
}

/** Priority follows severity until the person picks one; the hint says which it is. */
export function setupPrioritySuggestion(form, { follow = true } = {}) {
  const severity = form.elements.namedItem("severity");
  const priority = form.elements.namedItem("priority");
  const hint = form.querySelector(`#${CSS.escape(form.dataset.prefix + "priority-hint")}`);
  let overridden = !follow || Boolean(priority.value);
  const render = () => {
    const suggested = SUGGESTED_PRIORITY[severity.value];
    if (!suggested) { hint.textContent = ""; return; }
    if (!overridden) priority.value = suggested;
    hint.textContent = overridden && priority.value !== suggested
      ? tr("priority_overridden", { priority: suggested })
      : tr("priority_suggested", { severity: tr(`severity.${severity.value}`), priority: suggested });
  };
  severity.addEventListener("change", render);
  priority.addEventListener("change", () => { overridden = priority.value !== ""; render(); });
  render();
  return { reset() { overridden = !follow; render(); }, refresh: render };
}

/**
 * Drafts on the server: saved through the socket's `auto-save` (which also tells this user's other
 * tabs) or, when offline, PUT /api/incidents/{key}/draft; every AUTOSAVE_MS while something changed.
 */
export class Drafts {
  constructor({ key, form, getData, socket, savedAt }) {
    Object.assign(this, { key, form, getData, socket, savedAt });
    this.lastSaved = JSON.stringify(getData());
    this.timer = setInterval(() => this.saveIfChanged(), AUTOSAVE_MS);
    addEventListener("pagehide", () => this.saveIfChanged({ keepalive: true }));
  }

  get url() {
    return this.key === "new" ? "/api/incidents/drafts/new" : `/api/incidents/${encodeURIComponent(this.key)}/draft`;
  }

  async saveIfChanged({ keepalive = false } = {}) {
    const draft = this.getData();
    const encoded = JSON.stringify(draft);
    if (encoded === this.lastSaved) return;
    let timestamp = null;
    try {
      if (this.socket && this.socket.connected && !keepalive) {
        const ack = await this.socket.timeout(5000).emitWithAck("auto-save", { incidentId: this.key, data: draft });
        if (ack && ack.ok) timestamp = ack.timestamp;
      }
      if (!timestamp) {
        const saved = await api("PUT", this.url, { data: draft }, { keepalive });
        if (saved.ok) timestamp = saved.body.draft.updatedAt;
      }
    } catch (error) {
      if (!(error instanceof NetworkError) && !(error instanceof Error)) throw error;
    }
    if (timestamp) {
      this.lastSaved = encoded;
      this.savedAt.textContent = tr("saved_at", { time: clock(timestamp) });
    } else {
      this.savedAt.textContent = tr("save_failed");
    }
  }

  /** After a real save: nothing left to keep. */
  async discard() {
    this.lastSaved = JSON.stringify(this.getData());
    await api("DELETE", this.url).catch(() => null);
  }
}

/** Ctrl+S (or Cmd+S) submits the form holding the focus, else `fallback`; Esc calls onEscape. */
export function setupShortcuts({ fallback, onEscape }) {
  addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      const form = document.activeElement && document.activeElement.closest("form[novalidate]");
      (form || fallback).requestSubmit();
    } else if (event.key === "Escape" && !event.defaultPrevented) {
      onEscape(event);
    }
  });
}
