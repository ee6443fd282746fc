// `/` and `/history`: new incidents and status changes appear without a reload, within the filters.
import { el, statusBadge, timeEl, tr } from "./common.js";

function matches(filters, incident) {
  return (!filters.status || filters.status.includes(incident.status))
    && (!filters.priority || filters.priority.includes(incident.priority))
    && (!filters.service || (incident.affectedServices || []).includes(filters.service));
}

function row(incident) {
  return el("li", { class: "incident-row", dataset: { incidentId: incident.id, status: incident.status,
                                                        priority: incident.priority } },
    el("div", { class: "row-head" }, el("a", { class: "incident-link", href: `/${encodeURIComponent(incident.id)}` },
      incident.title), " ", el("span", { class: "incident-id" }, incident.id)),
    el("div", { class: "row-meta" }, statusBadge(incident.status), " ",
      el("span", { class: `badge priority-${incident.priority}` }, incident.priority), " ",
      el("span", { class: "severity" }, tr(`severity.${incident.severity}`)), " ",
      el("span", { class: "services" }, (incident.affectedServices || []).join(", ")), " ",
      el("span", { class: "created" }, timeEl(incident.createdAt))));
}

export function listHandlers(data) {
  const list = document.getElementById("incident-list");
  const filters = data.filters || {};
  const find = (id) => list.querySelector(`[data-incident-id="${CSS.escape(id)}"]`);
  return {
    "incident-created": ({ incident }) => {
      if (!incident || find(incident.id) || !matches(filters, incident)) return;
      list.prepend(row(incident));
      document.getElementById("empty-list")?.remove();
    },
    "incident-updated": ({ incidentId, incident, deleted }) => {
      const existing = find(incidentId);
      if (deleted) { existing?.remove(); return; }
      if (!incident) return;
      if (!matches(filters, incident)) { existing?.remove(); return; }
      if (existing) existing.replaceWith(row(incident));
    },
  };
}
