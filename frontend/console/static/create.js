// /create: open an incident. Validation messages per field from the API's 422; the draft of the new
// incident is kept on the server and restored on reload.
import { api, clearFieldErrors, clock, detailsOf, NetworkError, showAlert, showFieldErrors, tr } from "./common.js";
import { Drafts, readForm, setupPrioritySuggestion, setupShortcuts, writeForm } from "./incident-form.js";

export function setupCreate(data, socket) {
  const form = document.getElementById("incident-form");
  const summary = document.getElementById("form-errors");
  const notice = document.getElementById("draft-notice");
  const discard = document.getElementById("discard-draft");
  if (data.draft) {
    writeForm(form, data.draft.data);
    notice.textContent = tr("draft_restored", { time: clock(data.draft.updatedAt) });
    notice.hidden = false;
    discard.hidden = false;
  }
  const priority = setupPrioritySuggestion(form, { follow: !(data.draft && data.draft.data.priority) });
  const drafts = new Drafts({ key: "new", form, socket, savedAt: document.getElementById("saved-at"),
                              getData: () => compact(readForm(form)) });
  form.addEventListener("input", () => { discard.hidden = false; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form, summary);
    const body = compact(readForm(form));
    let result;
    try {
      result = await api("POST", "/api/incidents", body);
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      showAlert(summary, tr("network_error"));
      return;
    }
    if (result.ok) {
      await drafts.discard();
      location.assign(`/${encodeURIComponent(result.body.incident.id)}?created=1`);
    } else {
      showFieldErrors(form, summary, detailsOf(result.body));
    }
  });

  discard.addEventListener("click", async () => {
    form.reset();
    priority.reset();
    await drafts.discard();
    notice.hidden = true;
    discard.hidden = true;
    form.elements.namedItem("title").focus();
  });

  // Esc leaves the form; what was typed stays in the server draft and comes back next time.
  setupShortcuts({ fallback: form, onEscape: async () => { await drafts.saveIfChanged(); location.assign("/"); } });
}

/** The create body: empty optional fields left out, so the API's defaults apply. */
function compact(values) {
  const body = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === "" || (Array.isArray(value) && !value.length && name !== "affected_services")) continue;
    body[name] = value;
  }
  return body;
}
