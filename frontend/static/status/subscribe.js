// The subscribe form of the status page and the pages of a subscriber's links (docs/pages.md):
// every request goes to /api/public/subscriptions (docs/api.md, Public subscriptions).
import { pageData } from "../live.js";

const texts = pageData("subscribe-texts") || {};
const API = "/api/public/subscriptions";

function say(result, text, tone = "info") {
  result.dataset.tone = tone;
  result.textContent = text;
}

async function call(method, url, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    return { ok: false, message: texts.offline };
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) return { ok: true, data };
  if (response.status === 429) return { ok: false, message: texts.too_many };
  if (response.status === 410) return { ok: false, message: `${texts.link_invalid} ${data.message || ""}`.trim() };
  const field = data.details && data.details[0] && data.details[0].field;
  return { ok: false, message: field ? `${texts.invalid} ${field}: ${data.details[0].message}` : data.message || texts.failed };
}

// "All services" or a choice: the boxes of the services are usable only without "all".
function wireServices(form) {
  const all = form.querySelector('input[name="all"]');
  const boxes = [...form.querySelectorAll('input[name="service"]')];
  const sync = () => boxes.forEach((box) => { box.disabled = all.checked; });
  all.addEventListener("change", sync);
  sync();
  return {
    chosen: () => (all.checked ? [] : boxes.filter((box) => box.checked).map((box) => box.value)),
    show: (services) => {
      all.checked = services.length === 0;
      boxes.forEach((box) => { box.checked = services.includes(box.value); });
      sync();
    },
  };
}

function wireSubscribe(form) {
  const services = wireServices(form);
  const result = form.querySelector(".subscribe-result");
  const emailField = form.querySelector('[data-for="email"]');
  const urlField = form.querySelector('[data-for="url"]');
  const kind = () => form.querySelector('input[name="kind"]:checked').value;
  const syncKind = () => {
    const email = kind() === "email";
    emailField.hidden = !email;
    urlField.hidden = email;
    emailField.querySelector("input").required = email;
    urlField.querySelector("input").required = !email;
  };
  form.querySelectorAll('input[name="kind"]').forEach((radio) => radio.addEventListener("change", syncKind));
  syncKind();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { kind: kind(), services: services.chosen() };
    const input = kind() === "email" ? form.elements.email : form.elements.url;
    if (!input.value.trim()) {
      say(result, texts.missing, "bad");
      input.focus();
      return;
    }
    body[kind() === "email" ? "email" : "url"] = input.value.trim();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    const answer = await call("POST", API, body);
    button.disabled = false;
    say(result, answer.ok ? texts.accepted : answer.message, answer.ok ? "info" : "bad");
  });
}

function wireLinkPage(form) {
  const section = form.closest("[data-action]");
  const action = section.dataset.action;
  const { token } = pageData("subscription-data");
  const query = `?token=${encodeURIComponent(token)}`;
  const result = section.querySelector(".subscribe-result");
  const receiver = section.querySelector(".subscription-receiver");
  const services = action === "manage" ? wireServices(form) : null;
  const show = (subscription) => {
    receiver.hidden = false;
    receiver.textContent = `${subscription.receiver} · ${texts[`status_${subscription.status}`]}`;
    if (services) services.show(subscription.services);
  };
  if (action === "manage") {
    call("GET", `${API}/manage${query}`).then((answer) => {
      if (answer.ok) show(answer.data.subscription);
      else say(result, answer.message, "bad");
    });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const what = event.submitter ? event.submitter.value : action;
    let answer;
    if (what === "confirm") answer = await call("POST", `${API}/confirm`, { token });
    else if (what === "save") answer = await call("PUT", `${API}/manage${query}`, { services: services.chosen() });
    else if (action === "manage") answer = await call("POST", `${API}/manage/unsubscribe${query}`);
    else answer = await call("POST", `${API}/unsubscribe${query}`);
    if (!answer.ok) {
      say(result, answer.message, "bad");
      return;
    }
    if (answer.data.subscription) show(answer.data.subscription);
    say(result, texts[`done_${what}`]);
  });
}

const subscribeForm = document.getElementById("subscribe-form");
if (subscribeForm) wireSubscribe(subscribeForm);
const linkForm = document.getElementById("subscription-form");
if (linkForm) wireLinkPage(linkForm);
