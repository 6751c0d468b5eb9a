// The ops dashboard's panels on the pipeline itself rather than on leads: the dead letters (the
// whole pipeline's topic beside this service's own counter) and the lag of the SLA's input, which
// holds follow-up alerts back until the input is complete past their due time.
import { $, clock, element } from "./dashboard-elements.js";
import { call } from "./session.js";

// --- dead letters (the pipeline's topic, and this service's counter) -------------------------

function hereText(byTopic) {
  const entries = Object.entries(byTopic ?? {});
  if (!entries.length) return "no consumer";
  return entries.map(([topic, count]) => `${count} from ${topic}`).join(", ");
}

export async function refreshDeadLetters() {
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

export async function refreshLag() {
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
