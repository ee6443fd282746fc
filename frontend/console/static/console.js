// Entry point of every console page: common set-up, the live connection (public `incidents` room:
// toasts for new incidents and status changes), then the page's own module.
import { connectLive, showState } from "../live.js";
import { announce, data, loginUrl, setupCommon, tr } from "./common.js";
import { setupAdmin } from "./admin.js";
import { setupCreate } from "./create.js";
import { listHandlers } from "./list.js";

// The last status seen of each incident, so that a progress note is not announced as a change.
const knownStatus = new Map();

function notifications() {
  for (const node of document.querySelectorAll("[data-incident-id][data-status]")) knownStatus.set(node.dataset.incidentId, node.dataset.status);
  if (data.incident) knownStatus.set(data.incident.id, data.incident.status);
  return {
    "incident-created": ({ incident }) => {
      if (incident) knownStatus.set(incident.id, incident.status);
      if (incident) announce(tr("new_incident", { title: incident.title, priority: incident.priority }), `/${encodeURIComponent(incident.id)}`);
    },
    "incident-updated": ({ incidentId, update }) => {
      if (!update || !update.status) return;
      const changed = knownStatus.get(incidentId) !== update.status;
      knownStatus.set(incidentId, update.status);
      if (changed && update.author !== data.user?.name) {
        announce(tr("status_changed", { id: incidentId, status: tr(`status.${update.status}`) }), `/${encodeURIComponent(incidentId)}`);
      }
    },
  };
}

function merge(...handlerSets) {
  const merged = {};
  for (const handlers of handlerSets) {
    for (const [event, handler] of Object.entries(handlers)) {
      const previous = merged[event];
      merged[event] = previous ? (payload) => { previous(payload); handler(payload); } : handler;
    }
  }
  return merged;
}

async function main() {
  setupCommon();
  if (!data.user) return;  // the sign-in page
  const pageHandlers = data.page === "list" ? listHandlers(data) : {};
  let detail = null;
  if (data.page === "detail") detail = await import("./detail.js");
  const stateElement = document.getElementById("live-state");
  const socket = connectLive({
    rooms: ["incidents"],
    token: data.token,
    handlers: merge(notifications(), pageHandlers, {
      "session-ended": () => location.assign(loginUrl("signed_out")),
    }),
    onState: showState(stateElement, { connecting: tr("live.connecting"), live: tr("live.live"), offline: tr("live.offline") }),
    onResync: () => detail?.resync?.(),
  });
  if (data.page === "create") setupCreate(data, socket);
  if (data.page === "detail") detail.setupDetail(data, socket);
  if (data.page && data.page.startsWith("admin-")) setupAdmin();
}

main();
