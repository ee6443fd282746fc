// Admin pages: each `form.api-form` is one call of the existing admin API (data-method, data-url);
// its fields become the JSON body, the API's 422 details show next to the fields.
import { api, detailsOf, NetworkError, showAlert, showFieldErrors, tr } from "./common.js";

function bodyOf(form) {
  const body = {};
  const lists = {};
  for (const control of form.elements) {
    if (!control.name || control.disabled) continue;
    const type = control.dataset.type;
    if (control.type === "checkbox" && type === "bool") {
      body[control.name] = control.checked;
    } else if (control.type === "checkbox") {
      lists[control.name] = lists[control.name] || [];
      if (control.checked) lists[control.name].push(control.value);
    } else if (control.value === "" && "optional" in control.dataset) {
      continue;
    } else if (type === "list") {
      body[control.name] = control.value.split(/[\s,;]+/).filter(Boolean);
    } else if (type === "int") {
      body[control.name] = control.value === "" ? null : Number.parseInt(control.value, 10);
    } else if (type === "float") {
      body[control.name] = control.value === "" ? null : Number.parseFloat(control.value);
    } else if (type === "utc") {
      body[control.name] = control.value ? `${control.value.length === 16 ? `${control.value}:00` : control.value}Z` : null;
    } else {
      body[control.name] = control.value;
    }
  }
  return { ...body, ...lists };
}

export function setupAdmin() {
  for (const form of document.querySelectorAll("form.api-form")) {
    const holder = form.closest("li, section") || form.parentElement;
    const summary = holder.querySelector("[data-form-errors]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      const method = form.dataset.method;
      let result;
      try {
        result = await api(method, form.dataset.url, method === "DELETE" ? undefined : bodyOf(form));
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        showAlert(summary, tr("network_error"));
        return;
      }
      if (!result.ok) {
        showFieldErrors(form, summary, detailsOf(result.body), form.dataset.prefix || "");
      } else if (form.dataset.done === "reload") {
        location.reload();
      } else {
        if (summary) summary.hidden = true;
        const message = form.querySelector("[data-form-message]");
        if (message) message.textContent = tr("saved");
      }
    });
  }
}
