// Admin pages: each `form.api-form` is one call of the existing admin API (data-method, data-url);
// its fields become the JSON body, the API's 422 details show next to the fields.
import { api, clearFieldErrors, detailsOf, NetworkError, showAlert, showFieldErrors, tr } from "./common.js";

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

// A `data-yaml` form sends its `yaml` textarea as application/yaml (POST /api/slo-definitions:apply);
// each problem of the answer names its document, SLO and field, shown at the textarea.
function yamlProblems(details) {
  return details.map((d) => ({
    field: "yaml",
    message: d.document ? `${d.document}${d.slo ? ` (${d.slo})` : ""}${d.field ? ` ${d.field}` : ""}: ${d.message}` : d.message,
  }));
}

function send(form, method, dryRun) {
  if ("yaml" in form.dataset) {
    const url = dryRun ? `${form.dataset.url}?dryRun=true` : form.dataset.url;
    return api(method, url, form.elements.namedItem("yaml").value, { contentType: "application/yaml" });
  }
  return api(method, form.dataset.url, method === "DELETE" ? undefined : bodyOf(form));
}

export function setupAdmin() {
  for (const form of document.querySelectorAll("form.api-form")) {
    const holder = form.closest("li, section") || form.parentElement;
    const before = form.previousElementSibling;
    const summary = before && before.matches("[data-form-errors]") ? before : holder.querySelector("[data-form-errors]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      const method = form.dataset.method;
      const dryRun = Boolean(event.submitter && "dryRun" in event.submitter.dataset);
      let result;
      try {
        result = await send(form, method, dryRun);
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        showAlert(summary, tr("network_error"));
        return;
      }
      if (!result.ok) {
        const details = detailsOf(result.body);
        showFieldErrors(form, summary, "yaml" in form.dataset ? yamlProblems(details) : details, form.dataset.prefix || "");
      } else if (dryRun) {
        clearFieldErrors(form, summary);
        const outcomes = result.body.definitions.map((d) => `${d.name}: ${d.outcome}`).join(", ");
        form.querySelector("[data-form-message]").textContent = tr("slo_checked", { outcomes });
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
