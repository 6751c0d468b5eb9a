// The scorecard's other panels, each drawn from its section of the /scorecard document alone:
// the leads needed for the quota, revenue under the attribution model, the reasons leads and
// deals were turned down, and conversion, cycle and touches as compact tables.
import { bars } from "./charts.js";
import { element, figure, humanised, path, sentence, table, written } from "./scorecard-figures.js";

const STAGES = { deals_needed: "Deals", sqls_needed: "SQLs", mqls_needed: "MQLs", leads_needed: "Leads" };
const COUNTED = { deals_needed: "deals", sqls_needed: "SQLs", mqls_needed: "MQLs", leads_needed: "leads" };
const STAGE_NAMES = { lead: "lead", mql: "MQL", sal: "SAL", sql: "SQL", won: "won" };
const KINDS = { rejected: "Rejected by sales", disqualified: "Disqualified", lost: "Deals lost" };

function stageName(stage) {
  return STAGE_NAMES[stage] ?? humanised(stage);
}

function barRows(rows, at, value, unit, label) {
  return rows.map((row, i) => ({
    label: label(row) ?? "(none)",
    labelMetric: label(row) === null || label(row) === undefined ? null : path(at, i, labelKey(row)),
    value: row[value],
    text: written(row[value], unit),
    metric: path(at, i, value),
    unit,
  }));
}

function labelKey(row) {
  return ["campaign", "channel", "label"].find((key) => key in row);
}

// --- leads needed for the quota (the reverse waterfall) ----------------------------------------

function rateOf(needed, divisor) {
  const i = needed.rates.findIndex((r) => divisor === `rate(${r.from} -> ${r.to})`);
  return i < 0 ? null : [i, needed.rates[i]];
}

function counted(needed, name) {
  const at = path("leads_needed.steps", name);
  const s = needed.steps.find((found) => found.name === name);
  return [figure(path(at, "needed"), s?.needed ?? null, "count"), ` ${COUNTED[name] ?? humanised(name)}`];
}

// One line of the arithmetic: what is divided, by which input, and what it comes to (or why not).
function step(needed, s) {
  const at = path("leads_needed.steps", s.name);
  const result = s.needed === null
    ? [figure(path(at, "needed"), null, "count"), ` ${COUNTED[s.name] ?? humanised(s.name)}: `, figure(path(at, "unknown_because"), s.unknown_because, "text", "why")]
    : counted(needed, s.name);
  if (s.of === "quota") {
    return sentence("li", "", "quota ", figure("leads_needed.quota", needed.quota, "money"), " ÷ average won deal ",
      figure("leads_needed.average_won_deal_size", needed.average_won_deal_size, "money"), " = ", ...result);
  }
  const found = rateOf(needed, s.divided_by);
  const divisor = [s.divided_by];
  if (found) {
    const [i, rate] = found;
    const r = path("leads_needed.rates", i);
    divisor.splice(0, 1, `${stageName(rate.from)} → ${stageName(rate.to)} `, figure(path(r, "rate"), rate.rate, "rate"), " (",
      figure(path(r, "converted"), rate.converted, "count"), " of ", figure(path(r, "cohort"), rate.cohort, "count"), ")");
  }
  return sentence("li", "", ...counted(needed, s.of), " ÷ ", ...divisor, " = ", ...result);
}

export function drawWaterfall(container, document) {
  const needed = document.leads_needed;
  const order = ["leads_needed", "mqls_needed", "sqls_needed", "deals_needed"];
  const steps = order.map((name) => needed.steps.find((s) => s.name === name)).filter(Boolean);
  const chart = element("div", "chart");
  bars(chart, steps.map((s) => ({
    label: STAGES[s.name] ?? humanised(s.name),
    value: s.needed,
    text: written(s.needed, "count"),
    metric: path("leads_needed.steps", s.name, "needed"),
    unit: "count",
  })), { centered: true, chart: "leads-needed", title: "Leads needed for the quota" });
  const trailing = sentence("p", "inputs",
    "From the trailing window ", figure("leads_needed.trailing.from", needed.trailing.from, "date"), " to ",
    figure("leads_needed.trailing.to", needed.trailing.to, "date"), ": ",
    figure("leads_needed.won_deals", needed.won_deals, "count"), needed.won_deals === 1 ? " deal won for " : " deals won for ",
    figure("leads_needed.won_amount", needed.won_amount, "money"), ", ",
    figure("leads_needed.won_deals_other_currency", needed.won_deals_other_currency, "count"),
    " more in another currency, left out.");
  const arithmetic = element("ol", "arithmetic");
  arithmetic.append(...needed.steps.map((s) => step(needed, s)));
  container.replaceChildren(chart, trailing, arithmetic);
}

// --- revenue under the attribution model ---------------------------------------------------------

function tile(title, at, found, extra) {
  const node = element("div", "tile");
  node.append(element("h3", "", title), figure(path(at, "amount"), found.amount, "money", "amount"));
  node.append(sentence("p", "", figure(path(at, "deals"), found.deals, "count"), found.deals === 1 ? " deal" : " deals", ...extra));
  return node;
}

export function drawRevenue(container, document) {
  const revenue = document.revenue;
  const tiles = element("div", "tiles");
  tiles.append(
    tile("Won", "revenue.won", revenue.won, [" · ", figure("revenue.won.other_currency", revenue.won.other_currency, "count"), " in another currency, not summed"]),
    tile("Marketing-sourced", "revenue.marketing_sourced", revenue.marketing_sourced, [" · ", figure("revenue.marketing_sourced_share", revenue.marketing_sourced_share, "rate"), " of won"]),
    tile("Marketing-influenced", "revenue.marketing_influenced", revenue.marketing_influenced, []),
    tile("Unattributed", "revenue.unattributed", revenue.unattributed, [" without a marketing touch that counts"]),
  );
  const charts = element("div", "charts two");
  for (const [key, caption] of [["by_campaign", "Credit by campaign"], ["by_channel", "Credit by channel"]]) {
    const holder = element("figure");
    holder.append(sentence("figcaption", "", `${caption}, `, figure("revenue.model", revenue.model, "text", "model-name")));
    const chart = element("div", "chart");
    const rows = barRows(revenue[key], path("revenue", key), "amount", "money", (row) => row[labelKey(row)]);
    if (rows.length) bars(chart, rows, { chart: `revenue-${key.replace("_", "-")}`, title: caption });
    else chart.append(element("p", "empty", "No revenue credited in this month."));
    holder.append(chart);
    charts.append(holder);
  }
  container.replaceChildren(tiles, charts);
}

// --- reasons: rejected, disqualified, lost ---------------------------------------------------------

function byCampaign(kind, found) {
  const at = path("reasons", kind, "by_campaign");
  const rows = found.by_campaign.map((row, i) => [
    row.campaign === null ? "(no campaign)" : figure(path(at, i, "campaign"), row.campaign, "text"),
    row.code === null ? "(uncoded)" : figure(path(at, i, "code"), row.code, "text"),
    figure(path(at, i, "count"), row.count, "count"),
  ]);
  return rows.length ? table("compact", ["campaign", "code", "#count"], rows) : "";
}

export function drawReasons(container, document) {
  const columns = Object.entries(KINDS).map(([kind, title]) => {
    const found = document.reasons[kind];
    const column = element("figure", "reasons");
    column.dataset.kind = kind;
    column.append(sentence("figcaption", "", `${title}: `, figure(path("reasons", kind, "total"), found.total, "count")));
    const chart = element("div", "chart");
    const rows = barRows(found.by_code, path("reasons", kind, "by_code"), "count", "count", (row) => row.label);
    rows.forEach((row, i) => (row.title = `${found.by_code[i].label} (${found.by_code[i].code ?? "no agreed code"})`));
    if (rows.length) bars(chart, rows, { chart: `reasons-${kind}`, title: `${title} by reason` });
    else chart.append(element("p", "empty", "None this month."));
    column.append(chart, byCampaign(kind, found));
    return column;
  });
  container.replaceChildren(...columns);
}

// --- conversion, sales cycle and touches -----------------------------------------------------------

function median(at, spread, unit) {
  return [figure(path(at, "median"), spread.median, unit), figure(path(at, "p90"), spread.p90, unit)];
}

export function drawConversion(container, document) {
  const conversions = document.conversion.map((c, i) => {
    const at = path("conversion", i);
    const age = sentence("span", "", figure(path(at, "age_days.youngest"), c.age_days.youngest, "count"), "–",
      figure(path(at, "age_days.oldest"), c.age_days.oldest, "count"));
    return [`${stageName(c.from)} → ${stageName(c.to)}`, figure(path(at, "cohort"), c.cohort, "count"),
      figure(path(at, "converted"), c.converted, "count"), figure(path(at, "rate"), c.rate, "rate"), age];
  });
  const cycle = document.sales_cycle;
  const overall = [
    ["calendar days", ...median("sales_cycle.calendar_days", cycle.calendar_days, "days")],
    ["business days", ...median("sales_cycle.business_days", cycle.business_days, "days")],
  ];
  const stages = Object.entries(cycle.per_stage).map(([stage, s]) => {
    const at = path("sales_cycle.per_stage", stage);
    return [stageName(stage), figure(path(at, "stays"), s.stays, "count"),
      ...median(path(at, "calendar_days"), s.calendar_days, "days"), ...median(path(at, "business_days"), s.business_days, "days")];
  });
  const touches = [["before becoming a lead", "before_lead"], ["before becoming an MQL", "before_mql"]].map(([label, key]) => {
    const at = path("touches", key);
    const t = document.touches[key];
    return [label, figure(path(at, "leads"), t.leads, "count"), ...median(at, t, "count")];
  });
  const block = (title, ...content) => {
    const node = element("div", "block");
    node.append(element("h3", "", title), ...content);
    return node;
  };
  container.replaceChildren(
    block("Cohort conversion", table("compact", ["from the month's cohort", "#cohort", "#converted", "#rate", "#age (days)"], conversions),
      element("p", "hint", "A cohort's rate grows as it ages: its youngest and oldest members' days since the month are beside it.")),
    block("Sales cycle", sentence("p", "", figure("sales_cycle.deals", cycle.deals, "count"), " deals won, ",
      figure("sales_cycle.deals_without_lead", cycle.deals_without_lead, "count"), " without a lead; from the lead's first event to the won close"),
    table("compact", ["", "#median", "#p90"], overall)),
    block("Time in stage", table("compact", ["stays ended this month", "#stays", "#median (days)", "#p90", "#business median", "#p90"], stages)),
    block("Marketing touches", table("compact", ["", "#leads", "#median", "#p90"], touches)),
  );
}
