// The ops dashboard. Every URL is relative to the page (served at <service>/dashboard), so the
// page reads only the SLA service it came from; scoring's funnel arrives via /dashboard/funnel.
// Signing in, and every request the page makes, are in session.js. This file puts the board
// together and decides who sees what and when each part refreshes; the parts are the live alert
// feed (dashboard-alerts.js), the SLA and funnel panels (dashboard-panels.js), and the pipeline's
// dead letters and lag (dashboard-pipeline.js).
import { listen, loadFeed, refreshStatuses, streamState } from "./dashboard-alerts.js";
import { $ } from "./dashboard-elements.js";
import { refreshAttainment, refreshFunnel, refreshTimers } from "./dashboard-panels.js";
import { refreshDeadLetters, refreshLag } from "./dashboard-pipeline.js";
import { signedIn } from "./session.js";

const REFRESH_MS = 10_000; // timers, attainment and the statuses of shown alerts
const FUNNEL_REFRESH_MS = 60_000; // the funnel changes slowly and costs scoring a query
const LAG_REFRESH_MS = 5_000; // a backlog builds and drains within seconds

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
    listen(await loadFeed(), refreshSoon);
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
