// /{id}: the incident together with the others looking at it. Presence and who edits which field
// (room `incident:{id}`), edits at the version the form was based on (a stale save gets the API's 409
// with the current incident: both versions are shown, the person picks per field, nothing typed is
// lost), status updates with a required note, comments, drafts every 30 s, Ctrl+S / Esc.
import {
  api, clearFieldErrors, clock, data, detailsOf, el, NetworkError, showAlert, showFieldErrors, statusBadge, timeEl, tr,
} from "./common.js";
import { Drafts, FIELDS, readForm, sameValue, setupPrioritySuggestion, setupShortcuts, valuesOf, writeForm } from "./incident-form.js";

let state = null;

function byId(id) { return document.getElementById(id); }

// -- what the page shows of the incident ----------------------------------------------------------

function serviceNames(ids) {
  const names = new Map((data.services || []).map((s) => [s.id, s.name]));
  return ids.length ? ids.map((id) => names.get(id) || id).join(", ") : "—";
}

function renderHeader(incident) {
  byId("incident-title").textContent = incident.title;
  byId("incident-status").replaceChildren(statusBadge(incident.status));
  byId("incident-priority").replaceChildren(el("span", { class: `badge priority-${incident.priority}` }, incident.priority));
  byId("incident-severity").textContent = tr(`severity.${incident.severity}`);
  byId("incident-services").textContent = serviceNames(incident.affectedServices || []);
  byId("incident-version").textContent = String(incident.version);
  byId("incident-description").textContent = incident.description;
  byId("incident-resolved").replaceChildren(timeEl(incident.resolvedAt),
    incident.resolutionTime ? ` (${incident.resolutionTime})` : "");
  const select = byId("status-select");
  if (select && !select.matches(":focus")) select.value = incident.status;
}

function timelineEntry(update) {
  return el("li", { class: "timeline-entry", dataset: { updateId: update.id } },
    el("p", { class: "entry-head" }, statusBadge(update.status), " ", timeEl(update.createdAt), " · ",
      el("span", { class: "author" }, update.author)),
    el("p", { class: "entry-body" }, update.description));
}

function addTimelineEntry(update) {
  const timeline = byId("timeline");
  if (!update || timeline.querySelector(`[data-update-id="${CSS.escape(String(update.id))}"]`)) return;
  timeline.prepend(timelineEntry(update));
}

function addComment(comment) {
  const list = byId("comments");
  if (list.querySelector(`[data-comment-id="${CSS.escape(String(comment.id))}"]`)) return;
  list.append(el("li", { class: "comment", dataset: { commentId: comment.id } },
    el("p", { class: "entry-head" }, el("span", { class: "author" }, comment.userName), " · ", timeEl(comment.timestamp)),
    el("p", { class: "entry-body" }, comment.message)));
  byId("no-comments").hidden = true;
}

/** A newer incident arrived (event, response or re-fetch). */
function learn(incident, update = null) {
  if (!incident || incident.version < state.latest.version) return;
  state.latest = { ...state.latest, ...incident };
  renderHeader(state.latest);
  addTimelineEntry(update);
  if (!state.form) return;
  if (!isDirty()) {
    rebase(state.latest);
    writeForm(state.form, state.base.values);
  } else if (state.base.version < state.latest.version && !state.noticeShown) {
    showAlert(byId("draft-notice"), tr("incident_changed", { version: state.latest.version }));
    state.noticeShown = true;
  }
}

// -- presence: who else is here, and which field they edit ----------------------------------------

function renderPresence() {
  const list = byId("presence-list");
  const people = [...state.others.values()];
  list.replaceChildren(...(people.length ? people.map((p) => el("li", { class: "person", dataset: { userId: p.id } },
    p.field ? tr("viewing_editing", { name: p.name, role: tr(`roles.${p.role}`), field: tr(`fields.${p.field}`) })
      : tr("viewing", { name: p.name, role: tr(`roles.${p.role}`) })))
    : [el("li", { class: "muted" }, tr("only_you"))]));
  for (const holder of document.querySelectorAll("[data-editing-for]")) {
    const editors = people.filter((p) => p.field === holder.dataset.editingFor).map((p) => tr("editing", { name: p.name }));
    holder.textContent = editors.join(", ");
  }
}

function presenceHandlers() {
  const room = `incident:${data.incident.id}`;
  return {
    "user-joined": ({ room: joined, user }) => {
      if (joined !== room || user.id === data.user.id) return;
      const known = state.others.get(user.id);
      state.others.set(user.id, { ...user, sockets: (known?.sockets || 0) + 1, field: known?.field || null });
      renderPresence();
    },
    "user-left": ({ room: left, userId }) => {
      const known = state.others.get(userId);
      if (left !== room || !known) return;
      if (known.sockets > 1) known.sockets -= 1; else state.others.delete(userId);
      renderPresence();
    },
    "incident-editing": ({ incidentId, userId, userName, isEditing, field }) => {
      if (incidentId !== data.incident.id || userId === data.user.id) return;
      const person = state.others.get(userId) || { id: userId, name: userName, role: "", sockets: 1 };
      person.field = isEditing ? field : null;
      state.others.set(userId, person);
      renderPresence();
    },
  };
}

async function joinRoom(socket) {
  const ack = await socket.timeout(5000).emitWithAck("join-room", { room: `incident:${data.incident.id}` }).catch(() => null);
  if (!ack || !ack.ok) return;
  state.others.clear();
  for (const member of ack.members || []) {
    if (member.id === data.user.id) continue;
    const known = state.others.get(member.id);
    state.others.set(member.id, { ...member, sockets: (known?.sockets || 0) + 1, field: null });
  }
  renderPresence();
  if (state.editingField) socket.emit("incident-editing", { incidentId: data.incident.id, field: state.editingField, isEditing: true });
}

function trackEditing(form, socket) {
  const fieldOf = (node) => node && node.closest && form.contains(node) && (node.name || node.closest("[data-field]")?.dataset.field);
  const tell = (field, isEditing) => {
    if (socket.connected) socket.emit("incident-editing", { incidentId: data.incident.id, field, isEditing });
  };
  form.addEventListener("focusin", (event) => {
    const field = fieldOf(event.target);
    if (!field || field === state.editingField) return;
    state.editingField = field;
    tell(field, true);
  });
  form.addEventListener("focusout", () => {
    setTimeout(() => {
      if (fieldOf(document.activeElement) === state.editingField || !state.editingField) return;
      const field = state.editingField;
      state.editingField = null;
      if (!form.contains(document.activeElement)) tell(field, false);
    }, 0);
  });
}

// -- editing, conflicts and drafts ---------------------------------------------------------------

function rebase(incident) {
  state.base = { values: valuesOf(incident), version: incident.version };
}

function isDirty() {
  const mine = readForm(state.form);
  return FIELDS.some((name) => !sameValue(mine[name], state.base.values[name])) || Boolean(mine.note);
}

function shown(name, value) {
  if (Array.isArray(value)) return value.length ? serviceNames(value) : tr("empty");
  if (name === "severity" && value) return tr(`severity.${value}`);
  return value === "" || value === null || value === undefined ? tr("empty") : String(value);
}

function showConflict(current) {
  const mine = readForm(state.form);
  const theirs = valuesOf(current);
  const differing = FIELDS.filter((name) => !sameValue(mine[name], theirs[name]));
  state.conflict = { current, mine, theirs, differing };
  state.latest = { ...state.latest, ...current };
  renderHeader(state.latest);
  for (const update of [...(current.updates || [])].reverse()) addTimelineEntry(update);
  if (!differing.length) {  // nothing to choose: the incident moved on elsewhere only
    rebase(current);
    state.form.requestSubmit();
    return;
  }
  const choices = differing.map((name) => {
    const keepMine = !sameValue(mine[name], state.base.values[name]);
    const group = `conflict-${name}`;
    return el("fieldset", { class: "conflict-field", dataset: { field: name } },
      el("legend", {}, tr(`fields.${name}`)),
      el("label", { class: "check" }, el("input", { type: "radio", name: group, value: "mine", checked: keepMine }),
        ` ${tr("yours")}: `, el("span", { class: "value mine" }, shown(name, mine[name]))),
      el("label", { class: "check" }, el("input", { type: "radio", name: group, value: "theirs", checked: !keepMine }),
        ` ${tr("theirs")}: `, el("span", { class: "value theirs" }, shown(name, theirs[name]))));
  });
  byId("conflict-fields").replaceChildren(...choices);
  byId("conflict").hidden = false;
  byId("conflict-title").focus();
}

function resolveConflict(takeAllTheirs) {
  const { current, mine, theirs, differing } = state.conflict;
  const merged = { ...theirs, note: mine.note };
  if (!takeAllTheirs) {
    for (const name of differing) {
      const picked = document.querySelector(`input[name="conflict-${CSS.escape(name)}"]:checked`);
      merged[name] = picked && picked.value === "mine" ? mine[name] : theirs[name];
    }
  }
  rebase(current);
  writeForm(state.form, merged);
  byId("conflict").hidden = true;
  state.conflict = null;
  state.noticeShown = false;
  byId("draft-notice").hidden = true;
  return merged;
}

async function save(event) {
  event.preventDefault();
  const form = state.form;
  const summary = byId("form-errors");
  clearFieldErrors(form, summary);
  const values = readForm(form);
  const body = { version: state.base.version };
  for (const name of FIELDS) body[name] = values[name];
  if (values.note.trim()) body.note = values.note;
  let result;
  try {
    result = await api("PUT", `/api/incidents/${encodeURIComponent(data.incident.id)}`, body);
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    showAlert(summary, tr("network_error"));
    return;
  }
  if (result.ok) {
    const incident = result.body.incident;
    rebase(incident);
    writeForm(form, { ...state.base.values, note: "" });
    await state.drafts.discard();
    learn(incident, (incident.updates || [])[0]);
    state.noticeShown = false;
    byId("draft-notice").hidden = true;
    byId("saved-at").textContent = tr("saved");
  } else if (result.status === 409 && result.body.current) {
    await state.drafts.saveIfChanged();
    showConflict(result.body.current);
  } else {
    showFieldErrors(form, summary, detailsOf(result.body), form.dataset.prefix);
  }
}

function cancelEditing() {
  if (state.conflict) { byId("conflict").hidden = true; state.conflict = null; }
  rebase(state.latest);
  writeForm(state.form, { ...state.base.values, note: "" });
  clearFieldErrors(state.form, byId("form-errors"));
  state.drafts.discard();
  byId("draft-notice").hidden = true;
  byId("saved-at").textContent = "";
  if (state.form.contains(document.activeElement)) document.activeElement.blur();
}

function restoreDraft(form) {
  const draft = data.draft;
  if (!draft) return;
  writeForm(form, draft.data);
  const notice = byId("draft-notice");
  if (draft.data.base_version && draft.data.base_version < data.incident.version) {
    state.base.version = draft.data.base_version;
    notice.textContent = `${tr("draft_restored", { time: clock(draft.updatedAt) })} ${tr("draft_stale")}`;
  } else {
    notice.textContent = tr("draft_restored", { time: clock(draft.updatedAt) });
  }
  notice.hidden = false;
}

// -- status updates, comments, delete -------------------------------------------------------------

async function postStatus(event) {
  event.preventDefault();
  const form = event.target;
  const alert = byId("status-errors");
  alert.hidden = true;
  clearFieldErrors(form, null);
  const note = form.elements.namedItem("description");
  if (!note.value.trim()) {
    showFieldErrors(form, null, [{ field: "description", message: tr("note_required") }], "status-");
    return;
  }
  const status = form.elements.namedItem("status").value;
  let result;
  try {
    result = await api("POST", `/api/incidents/${encodeURIComponent(data.incident.id)}/updates`,
                       { status, description: note.value, version: state.latest.version });
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    showAlert(alert, tr("network_error"));
    return;
  }
  if (result.ok) {
    note.value = "";
    learn(result.body.incident, result.body.update);
  } else if (result.status === 409 && result.body.error === "invalid_transition") {
    showAlert(alert, tr("invalid_transition", { message: result.body.message }));
  } else if (result.status === 409 && result.body.current) {
    learn(result.body.current, null);
    for (const update of [...(result.body.current.updates || [])].reverse()) addTimelineEntry(update);
    showAlert(alert, tr("status_stale"));
  } else {
    showAlert(alert, detailsOf(result.body).map((d) => d.message).join(" "));
  }
}

async function postComment(event) {
  event.preventDefault();
  const form = event.target;
  const message = form.elements.namedItem("message");
  clearFieldErrors(form, null);
  if (!message.value.trim()) {
    showFieldErrors(form, null, [{ field: "message", message: tr("comment_required") }], "comment-");
    return;
  }
  let result;
  try {
    result = await api("POST", `/api/incidents/${encodeURIComponent(data.incident.id)}/comments`, { message: message.value });
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    showFieldErrors(form, null, [{ field: "message", message: tr("network_error") }], "comment-");
    return;
  }
  if (result.ok) {
    addComment(result.body.comment);
    message.value = "";
  } else {
    showFieldErrors(form, null, detailsOf(result.body).map((d) => ({ ...d, field: "message" })), "comment-");
  }
}

function setupDelete() {
  const button = byId("delete-button");
  if (!button) return;
  const confirmBox = byId("delete-confirm");
  button.addEventListener("click", () => { confirmBox.hidden = false; byId("delete-keep").focus(); });
  byId("delete-keep").addEventListener("click", () => { confirmBox.hidden = true; button.focus(); });
  byId("delete-confirm-button").addEventListener("click", async () => {
    const result = await api("DELETE", `/api/incidents/${encodeURIComponent(data.incident.id)}`);
    if (result.ok) location.assign("/history");
    else showAlert(byId("delete-errors"), result.body.message || result.body.error);
  });
}

function setupAcknowledge() {
  const button = byId("acknowledge-button");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const result = await api("POST", `/api/incidents/${encodeURIComponent(data.incident.id)}/acknowledge`);
    if (result.ok) location.reload();  // the escalation section is rendered by the server
    else { button.disabled = false; showAlert(byId("escalation-errors"), result.body.message || result.body.error); }
  });
}

function disableWrites() {
  for (const control of document.querySelectorAll("#incident form button, #incident form input, #incident form select, #incident form textarea")) {
    control.disabled = true;
  }
  if (state.drafts) clearInterval(state.drafts.timer);
}

// -- wiring --------------------------------------------------------------------------------------

export function handlers() {
  return {
    ...presenceHandlers(),
    "incident-updated": ({ incidentId, incident, update, deleted }) => {
      if (incidentId !== data.incident.id) return;
      if (deleted) { showAlert(byId("draft-notice") || byId("incident-description"), tr("incident_deleted")); disableWrites(); return; }
      learn(incident, update);
    },
    "incident-comment": ({ incidentId, comment }) => { if (incidentId === data.incident.id) addComment(comment); },
  };
}

/** After a reconnect: what changed while away. */
export async function resync() {
  const result = await api("GET", `/api/incidents/${encodeURIComponent(data.incident.id)}`).catch(() => null);
  if (!result || !result.ok) return;
  const incident = result.body.incident;
  for (const update of [...incident.updates].reverse()) addTimelineEntry(update);
  learn(incident);
}

export function setupDetail(pageData, socket) {
  state = { latest: { ...data.incident }, base: null, others: new Map(), form: byId("incident-form"),
            editingField: null, conflict: null, noticeShown: false, drafts: null };
  for (const [event, handler] of Object.entries(handlers())) socket.on(event, handler);
  // Every role follows the incident's room (viewers read-only: comments, updates, presence).
  socket.on("connect", () => joinRoom(socket));
  if (socket.connected) joinRoom(socket);
  rebase(data.incident);
  const statusForm = byId("status-form");
  if (statusForm) statusForm.addEventListener("submit", postStatus);
  const commentForm = byId("comment-form");
  if (commentForm) commentForm.addEventListener("submit", postComment);
  setupDelete();
  setupAcknowledge();
  const form = state.form;
  if (!form) return;
  restoreDraft(form);
  setupPrioritySuggestion(form, { follow: false });
  trackEditing(form, socket);
  state.drafts = new Drafts({ key: data.incident.id, form, socket, savedAt: byId("saved-at"),
                              getData: () => ({ ...readForm(form), base_version: state.base.version }) });
  form.addEventListener("submit", save);
  byId("cancel-button").addEventListener("click", cancelEditing);
  byId("conflict-save").addEventListener("click", () => { resolveConflict(false); form.requestSubmit(); });
  byId("conflict-theirs").addEventListener("click", () => {
    resolveConflict(true);
    writeForm(form, { ...state.base.values, note: "" });
    state.drafts.discard();
  });
  setupShortcuts({
    fallback: form,
    onEscape: (event) => {
      const inOther = event.target.closest && event.target.closest("#status-form, #comment-form");
      if (inOther) { inOther.reset(); clearFieldErrors(inOther, null); return; }
      cancelEditing();
    },
  });
}
