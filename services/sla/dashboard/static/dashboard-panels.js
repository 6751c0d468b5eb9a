// The ops dashboard's SLA and funnel panels: open timers by policy and owner, SLA attainment by
// policy over the window, and the funnel (scoring's numbers, fetched through this service). Each
// panel says in data-state whether it is drawn ("ready") or why not ("unavailable").
import { bars, duration, percent } from "./charts.js";
import { $, clock, element, windowStart } from "./dashboard-elements.js";
import { call } from "./session.js";

// --- open timers and attainment ------------------------------------------------------------

export async function refreshTimers() {
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

export async function refreshAttainment() {
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

export async function refreshFunnel() {
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
