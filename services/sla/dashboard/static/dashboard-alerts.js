// The live alert feed: the alerts loaded with the page, then each one the moment it is raised (over
// the SSE stream), as cards with Ack and Resolve buttons. Alerts name leads, so only an operator
// gets the feed; the board (dashboard.js) decides who does and refreshes the other panels.
import { $, clock, element } from "./dashboard-elements.js";
import { call, currentSession, sessionEnded } from "./session.js";

const FEED_LIMIT = 200; // cards kept in the feed; older ones drop off the bottom
const cards = new Map(); // alert id -> its <li>
const changedHere = new Map(); // alert id -> when this page last changed it (performance.now())

// The lead as the alert names them, linked to their CRM record when the source gave one.
function leadOf(alert) {
  const label = alert.lead ?? {};
  const name = label.name ?? (label.company ? `a lead at ${label.company}` : alert.lead_key);
  if (!label.record_url || !label.record_url.startsWith("https://")) return element("span", "lead", name);
  const link = element("a", "lead", name);
  link.href = label.record_url;
  link.rel = "noopener noreferrer";
  link.target = "_blank";
  return link;
}

function alertCard(alert, via) {
  const card = element("li", "alert");
  card.dataset.id = alert.id;
  card.dataset.lead = alert.lead_key;
  card.dataset.kind = alert.kind;
  card.dataset.via = via; // "initial" (loaded with the page) or "stream" (arrived live over SSE)
  const head = element("div", "alert-head");
  head.append(element("span", "kind", alert.kind), element("span", "severity", alert.severity), element("time", "raised", clock(alert.raised_at)));
  const meta = element("p", "meta");
  meta.append(element("span", "policy", alert.policy ?? "–"), element("span", "owner", alert.owner ?? "unassigned"), leadOf(alert));
  const actions = element("div", "actions");
  const ack = element("button", "ack", "Ack");
  const resolve = element("button", "resolve", "Resolve");
  ack.type = resolve.type = "button";
  ack.addEventListener("click", () => act(card, "ack"));
  resolve.addEventListener("click", () => act(card, "resolve"));
  actions.append(element("span", "status"), ack, resolve, element("span", "error"));
  card.append(head, element("p", "message", alert.message), meta, actions);
  paint(card, alert);
  return card;
}

function paint(card, alert) {
  card.dataset.status = alert.status;
  card.dataset.ackedBy = alert.acked_by ?? "";
  card.dataset.resolvedBy = alert.resolved_by ?? "";
  card.className = `alert sev-${alert.severity} status-${alert.status}`;
  const status = card.querySelector(".status");
  const by = (name) => (name ? ` by ${name}` : "");
  status.textContent =
    alert.status === "acked" ? `acked ${clock(alert.acked_at)}${by(alert.acked_by)}`
      : alert.status === "resolved" ? `resolved ${clock(alert.resolved_at)}${by(alert.resolved_by)}`
      : "open";
  card.querySelector("button.ack").disabled = alert.status !== "open";
  card.querySelector("button.resolve").disabled = alert.status === "resolved";
}

async function act(card, action) {
  const id = card.dataset.id;
  const buttons = card.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  card.querySelector(".error").textContent = "";
  changedHere.set(id, performance.now());
  try {
    paint(card, await call(`alerts/${id}/${action}`, "POST"));
  } catch (problem) {
    card.querySelector(".error").textContent = problem.message;
    card.querySelector("button.ack").disabled = card.dataset.status !== "open";
    card.querySelector("button.resolve").disabled = card.dataset.status === "resolved";
  }
  countAlerts();
}

function show(alert, via) {
  const known = cards.get(String(alert.id));
  if (known) {
    paint(known, alert);
    return;
  }
  const card = alertCard(alert, via);
  cards.set(String(alert.id), card);
  $("alert-list").prepend(card); // newest on top
  while (cards.size > FEED_LIMIT) {
    const oldest = $("alert-list").lastElementChild;
    cards.delete(oldest.dataset.id);
    oldest.remove();
  }
  countAlerts();
}

function countAlerts() {
  const open = [...cards.values()].filter((c) => c.dataset.status === "open").length;
  $("alert-count").textContent = cards.size ? `${open} open of ${cards.size}` : "";
  $("alerts-empty").hidden = cards.size > 0;
}

export function streamState(state, text) {
  $("stream-state").dataset.state = state;
  $("stream-state").textContent = text;
}

// EventSource reconnects by itself and sends Last-Event-ID, which the server prefers to `after`,
// so a dropped connection misses nothing. Only a refused stream (CLOSED) needs a new one.
// `arrived` runs after each alert the stream brings: the board refreshes what a new alert changes.
export function listen(after, arrived) {
  const source = new EventSource(after === null ? "alerts/stream" : `alerts/stream?after=${after}`);
  let last = after;
  source.addEventListener("open", () => streamState("live", "live"));
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    last = alert.id;
    show(alert, "stream");
    arrived();
  });
  source.addEventListener("error", async () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused: the session may be over (EventSource does not say why).
      if ((await currentSession().catch(() => ({}))) === null) return sessionEnded();
      streamState("down", "stream down, retrying…");
      setTimeout(() => listen(last, arrived), 5000);
    } else {
      streamState("reconnecting", "reconnecting…");
    }
  });
}

export async function loadFeed() {
  try {
    const page = await call("alerts?limit=50");
    page.alerts.reverse().forEach((alert) => show(alert, "initial"));
    // The stream resumes right after the newest alert loaded: nothing raised in between is lost.
    return page.alerts.length ? Math.max(...page.alerts.map((a) => a.id)) : 0;
  } catch (problem) {
    $("alerts-empty").textContent = `Could not load alerts: ${problem.message}`;
    return null; // the stream then starts from what is raised from now on
  }
}

export async function refreshStatuses() {
  const asked = performance.now();
  const page = await call("alerts?limit=200");
  for (const alert of page.alerts) {
    const card = cards.get(String(alert.id));
    // An answer older than this page's own ack/resolve would paint a stale status back.
    if (card && !((changedHere.get(String(alert.id)) ?? -1) > asked)) paint(card, alert);
  }
  countAlerts();
}
