// The ops dashboard. Every URL is relative to the page (served at <service>/dashboard), so the
// page reads only the SLA service it came from; scoring's funnel arrives via /dashboard/funnel.
// Signing in, and every request the page makes, are in session.js.
import { bars, duration, percent } from "./charts.js";
import { call, currentSession, sessionEnded, signedIn } from "./session.js";

const FEED_LIMIT = 200; // cards kept in the feed; older ones drop off the bottom
const REFRESH_MS = 10_000; // timers, attainment and the statuses of shown alerts
const FUNNEL_REFRESH_MS = 60_000; // the funnel changes slowly and costs scoring a query
const LAG_REFRESH_MS = 5_000; // a backlog builds and drains within seconds
const DAY_MS = 86_400_000;

const $ = (id) => document.getElementById(id);
const cards = new Map(); // alert id -> its <li>
const changedHere = new Map(); // alert id -> when this page last changed it (performance.now())

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  if (when.toDateString() === new Date().toDateString()) {
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  return when.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function windowStart() {
  return new Date(Date.now() - Number($("window").value) * DAY_MS).toISOString();
}

// --- the live alert feed -------------------------------------------------------------------

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

function streamState(state, text) {
  $("stream-state").dataset.state = state;
  $("stream-state").textContent = text;
}

// EventSource reconnects by itself and sends Last-Event-ID, which the server prefers to `after`,
// so a dropped connection misses nothing. Only a refused stream (CLOSED) needs a new one.
function listen(after) {
  const source = new EventSource(after === null ? "alerts/stream" : `alerts/stream?after=${after}`);
  let last = after;
  source.addEventListener("open", () => streamState("live", "live"));
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    last = alert.id;
    show(alert, "stream");
    refreshSoon();
  });
  source.addEventListener("error", async () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused: the session may be over (EventSource does not say why).
      if ((await currentSession().catch(() => ({}))) === null) return sessionEnded();
      streamState("down", "stream down, retrying…");
      setTimeout(() => listen(last), 5000);
    } else {
      streamState("reconnecting", "reconnecting…");
    }
  });
}

async function loadFeed() {
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

async function refreshStatuses() {
  const asked = performance.now();
  const page = await call("alerts?limit=200");
  for (const alert of page.alerts) {
    const card = cards.get(String(alert.id));
    // An answer older than this page's own ack/resolve would paint a stale status back.
    if (card && !((changedHere.get(String(alert.id)) ?? -1) > asked)) paint(card, alert);
  }
  countAlerts();
}

// --- open timers and attainment ------------------------------------------------------------

async function refreshTimers() {
  const section = $("timers");
  try {
    const body = await call("sla/timers/open");
    const rows = body.groups.map((g) => {
      const row = element("tr", g.breached ? "late" : "");
      row.append(
        element("td", "policy", g.policy),
        element("td", "owner", g.owner ?? "unassigned"),
        element("td", "num", String(g.open)),
        element("td", "num breached", String(g.breached)),
        element("td", "due", g.next_due_at ? clock(g.next_due_at) : "all tiers fired"),
      );
      return row;
    });
    $("timers-body").replaceChildren(...rows);
    $("timers-total").textContent = body.total ? `${body.total} open, ${body.breached} breached` : "";
    $("timers-empty").textContent = "No open timers.";
    $("timers-empty").hidden = rows.length > 0;
    section.querySelector("table").hidden = rows.length === 0;
    section.dataset.state = "ready";
  } catch (problem) {
    section.querySelector("table").hidden = true;
    $("timers-empty").textContent = `Open timers unavailable: ${problem.message}`;
    $("timers-empty").hidden = false;
    section.dataset.state = "unavailable";
  }
}

function attainmentTone(rate) {
  if (rate === null) return "muted";
  return rate >= 0.9 ? "good" : rate >= 0.75 ? "fair" : "poor";
}

async function refreshAttainment() {
  const section = $("attainment");
  try {
    const body = await call(`sla/compliance?group_by=policy&from=${encodeURIComponent(windowStart())}`);
    const rows = Object.entries(body.groups).map(([policy, g]) => ({
      label: policy,
      value: g.attainment,
      tone: attainmentTone(g.attainment),
      text: g.attainment === null ? `${g.open} open, none decided` : `${percent(g.attainment)} · ${g.met}/${g.met + g.breached}`,
      title: `${policy}: ${g.met} met, ${g.breached} breached, ${g.open} open; median ${duration(g.business_hours_to_meet.median)} business time to meet`,
    }));
    bars($("attainment-chart"), rows, { max: 1, title: "SLA attainment by policy" });
    $("attainment-empty").textContent = "No timers started in this window.";
    $("attainment-empty").hidden = rows.length > 0;
    section.dataset.state = "ready";
  } catch (problem) {
    $("attainment-chart").replaceChildren();
    $("attainment-empty").textContent = `Attainment unavailable: ${problem.message}`;
    $("attainment-empty").hidden = false;
    section.dataset.state = "unavailable";
  }
}

// --- the funnel (scoring's numbers, through this service) ----------------------------------

function drawFunnel(report) {
  const group = report.groups.all ?? Object.values(report.groups)[0];
  $("funnel-version").textContent = report.contract_version ? `contract ${report.contract_version}` : "";
  if (!group) {
    for (const id of ["funnel-stages", "funnel-conversion", "funnel-time"]) $(id).replaceChildren(element("p", "empty", "No stage changes in this window."));
    return "empty";
  }
  const stages = Object.entries(group.entered).map(([stage, count]) => ({ label: stage, value: count, text: String(count) }));
  bars($("funnel-stages"), stages, { centered: true, title: "Leads entering each stage" });
  const conversions = group.conversion.map((c) => ({
    label: `${c.from} → ${c.to}`,
    value: c.rate,
    text: c.rate === null ? "no cohort" : `${percent(c.rate)} (${c.converted}/${c.leads})`,
  }));
  bars($("funnel-conversion"), conversions, { max: 1, title: "Conversion rates" });
  const stays = Object.entries(group.time_in_stage_hours).map(([stage, t]) => ({
    label: stage,
    value: t.median,
    marker: t.p90,
    text: `${duration(t.median)} · p90 ${duration(t.p90)}`,
    title: `${stage}: ${t.count} stays`,
  }));
  if (stays.length) bars($("funnel-time"), stays, { title: "Time in stage" });
  else $("funnel-time").replaceChildren(element("p", "empty", "No completed stays yet."));
  return "ready";
}

async function refreshFunnel() {
  const section = $("funnel");
  try {
    const report = await call(`dashboard/funnel?from=${encodeURIComponent(windowStart())}`);
    section.dataset.state = drawFunnel(report);
    $("funnel-unavailable").hidden = true;
  } catch (problem) {
    // Scoring down is a normal state for this page: say so and keep everything else running.
    for (const id of ["funnel-stages", "funnel-conversion", "funnel-time"]) $(id).replaceChildren();
    $("funnel-problem").textContent = `(${problem.message})`;
    $("funnel-unavailable").hidden = false;
    section.dataset.state = "unavailable";
  }
}

// --- dead letters (the pipeline's topic, and this service's counter) -------------------------

function hereText(byTopic) {
  const entries = Object.entries(byTopic ?? {});
  if (!entries.length) return "no consumer";
  return entries.map(([topic, count]) => `${count} from ${topic}`).join(", ");
}

async function refreshDeadLetters() {
  const section = $("deadletters");
  try {
    const body = await call("dashboard/deadletters");
    $("deadletters-records").textContent = String(body.records);
    $("deadletters-topic").textContent = body.topic;
    $("deadletters-here").textContent = hereText(body.this_service);
    const rows = body.latest.map((d) => {
      const row = element("tr");
      row.append(
        element("td", "failed", clock(d.failed_at)),
        element("td", "topic", d.topic || "–"),
        element("td", "consumer", d.consumer || "–"),
        element("td", "error", d.error_type || "–"),
        element("td", "type", d.type ?? "not an event"),
      );
      return row;
    });
    $("deadletters-body").replaceChildren(...rows);
    $("deadletters-empty").textContent = "No dead letters.";
    $("deadletters-empty").hidden = rows.length > 0;
    section.querySelector("table").hidden = rows.length === 0;
    section.dataset.count = body.records > 0 ? "some" : "none";
    section.dataset.state = "ready";
  } catch (problem) {
    section.querySelector("table").hidden = true;
    $("deadletters-empty").textContent = `Dead letters unavailable: ${problem.message}`;
    $("deadletters-empty").hidden = false;
    section.dataset.state = "unavailable";
  }
}

// --- pipeline lag (the SLA input's watermarks) -----------------------------------------------

function behind(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return Math.round(seconds % 60) ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

async function refreshLag() {
  const section = $("lag");
  try {
    const body = await call("dashboard/lag");
    $("lag-complete").textContent = body.complete_until ? clock(body.complete_until) : "not yet known";
    $("lag-total").textContent = behind(body.lag_s);
    const lagging = body.lagging_since !== null;
    section.dataset.lagging = lagging ? "yes" : "no";
    $("lag-status").textContent = lagging
      ? `lagging since ${clock(body.lagging_since)} (alert at ${behind(body.threshold_s)})`
      : `keeping up (alert at ${behind(body.threshold_s)})`;
    const rows = body.topics.flatMap((t) =>
      t.partitions.map((p) => {
        const row = element("tr", p.lag_s !== null && p.lag_s >= body.threshold_s ? "late" : "");
        row.append(
          element("td", "topic", t.topic),
          element("td", "num", String(p.partition)),
          element("td", "watermark", p.watermark ? clock(p.watermark) : "no progress yet"),
          element("td", "num breached", behind(p.lag_s)),
          element("td", "owner", p.owner ?? "–"),
        );
        return row;
      }),
    );
    $("lag-body").replaceChildren(...rows);
    $("lag-empty").textContent = "No partition reported yet.";
    $("lag-empty").hidden = rows.length > 0;
    section.querySelector("table").hidden = rows.length === 0;
    section.dataset.state = "ready";
  } catch (problem) {
    section.querySelector("table").hidden = true;
    $("lag-empty").textContent = `Pipeline lag unavailable: ${problem.message}`;
    $("lag-empty").hidden = false;
    section.dataset.state = "unavailable";
  }
}

// --- refresh scheduling ----------------------------------------------------------------------

let soon = null;
function refreshSoon() {
  // A burst of alerts (a scan after downtime) triggers one refresh, not one per alert.
  if (soon === null) soon = setTimeout(() => { soon = null; refreshTimers(); refreshAttainment(); }, 500);
}

async function startBoard(session) {
  $("window").addEventListener("change", () => { refreshAttainment(); refreshFunnel(); });
  $("stream-state").hidden = false;
  if (session.role === "viewer") {
    // Alerts name leads: they are for operators. A viewer sees the aggregates.
    $("alerts-empty").textContent = "Alerts need an operator key.";
    streamState("down", "no alert feed for viewers");
  } else {
    listen(await loadFeed());
  }
  refreshTimers();
  refreshAttainment();
  refreshFunnel();
  refreshDeadLetters();
  refreshLag();
  setInterval(refreshLag, LAG_REFRESH_MS);
  setInterval(() => {
    refreshTimers();
    refreshAttainment();
    refreshDeadLetters();
    if (session.role !== "viewer") refreshStatuses().catch(() => {});
  }, REFRESH_MS);
  setInterval(refreshFunnel, FUNNEL_REFRESH_MS);
}

signedIn((session) => {
  $("board").hidden = false;
  startBoard(session);
});
