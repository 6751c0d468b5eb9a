// The scorecard page: the monthly review both teams open, drawn from scoring's /scorecard document,
// which arrives through this service (dashboard/scorecard/data). The page computes no figure of its
// own: every number on it is the document's, written where its path says (scorecard-figures.js).
// Relative URLs resolve from the service's root (the page's <base>), as on the ops dashboard.
import { call, signedIn } from "./session.js";
import { drawConversion, drawReasons, drawRevenue, drawWaterfall } from "./scorecard-panels.js";
import { drawTargets } from "./scorecard-targets.js";
import { figure, sentence } from "./scorecard-figures.js";

const $ = (id) => document.getElementById(id);
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
let asked = 0; // the latest request: an answer to an older one (a quick second change) is not drawn

function shifted(month, by) {
  const [year, m] = month.split("-").map(Number);
  const index = year * 12 + (m - 1) + by;
  return `${String(Math.floor(index / 12)).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}`;
}

// What the review is about: the month on the reporting clock, the contract, the currency.
function drawPeriod(document) {
  const parts = [
    figure("period.month", document.period.month, "month", "month"),
    " · reporting time zone ", figure("period.time_zone", document.period.time_zone, "text"),
    " · contract ", figure("contract_version", document.contract_version, "text"),
    " · amounts in ", figure("currency", document.currency, "text"),
  ];
  // The month still running: its figures will move; a young cohort has not had time to convert.
  if (new Date(document.period.to) > new Date()) parts.push(" · in progress, figures still moving");
  $("period").replaceChildren(sentence("span", "", ...parts));
}

function draw(document) {
  drawPeriod(document);
  drawTargets($("targets-body"), document);
  drawWaterfall($("waterfall-body"), document);
  drawRevenue($("revenue-body"), document);
  drawReasons($("reasons-body"), document);
  drawConversion($("conversion-body"), document);
}

// The month and model shown stay in the address, so a link or a reload opens the same review.
function remember(month, model) {
  const url = new URL(location.href);
  url.search = new URLSearchParams({ month, model }).toString();
  history.replaceState(null, "", url);
}

async function load(month, model) {
  const ticket = ++asked;
  const card = $("card");
  card.dataset.state = "loading";
  const query = new URLSearchParams();
  if (month) query.set("month", month);
  if (model) query.set("model", model);
  try {
    const document = await call(`dashboard/scorecard/data?${query}`);
    if (ticket !== asked) return;
    draw(document);
    $("month").value = document.period.month;
    $("model").value = document.revenue.model;
    card.dataset.month = document.period.month;
    card.dataset.model = document.revenue.model;
    remember(document.period.month, document.revenue.model);
    $("unavailable").hidden = true;
    card.dataset.state = "ready";
  } catch (problem) {
    if (ticket !== asked) return;
    // Scoring down, or a month it refuses: say so, and keep the pickers to try another.
    $("problem").textContent = problem.message;
    $("unavailable").hidden = false;
    card.dataset.state = "unavailable";
  }
}

function chosenMonth() {
  const month = $("month").value.trim();
  return MONTH.test(month) ? month : null;
}

function start() {
  $("card").hidden = false;
  $("month").addEventListener("change", () => {
    const month = chosenMonth();
    if (month) load(month, $("model").value);
    else $("month").value = $("card").dataset.month ?? "";
  });
  for (const [id, by] of [["previous-month", -1], ["next-month", 1]]) {
    $(id).addEventListener("click", () => {
      const month = chosenMonth() ?? $("card").dataset.month;
      if (month) load(shifted(month, by), $("model").value);
    });
  }
  $("model").addEventListener("change", () => load(chosenMonth() ?? $("card").dataset.month, $("model").value));
  const address = new URLSearchParams(location.search);
  // Without a month in the address: the last finished month, which the service works out on the
  // reporting clock; without a model, the contract's default.
  load(address.get("month"), address.get("model"));
}

signedIn(start);
