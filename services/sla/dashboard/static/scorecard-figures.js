// How the scorecard page writes the API's numbers, each in an element that says where it came from.
//
// Every value drawn from the /scorecard document sits in an element carrying `data-metric`, its path
// in the document (`targets.mqls_created.actual`, `revenue.by_campaign.0.amount`: keys joined by
// dots; in a list, the row's position, or its name for rows that have one), and `data-unit`, how it
// is written. Chart marks carry `data-value` instead of text. So anyone (the browser test, a reader
// who doubts a number) can trace what is on screen back to the API's answer. The units and their
// writing are the monthly report's (docs/scorecard.md), so the page and the report read alike.

export const UNKNOWN = "–"; // the document has no value (null)
export const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
// The targets' names as the two teams say them; a name the page does not know is shown as it is.
const TARGET_LABELS = {
  mqls_created: "MQLs created",
  mql_acceptance_rate: "MQL acceptance rate",
  sqls: "SQLs",
  pipeline_created: "Pipeline created",
  revenue_won: "Revenue won",
  marketing_sourced_share: "Marketing-sourced share of revenue",
  first_touch_sla_attainment: "First-touch SLA attainment",
  median_time_to_first_touch: "Median time to first touch",
};
// Fixed to en-US: the figures must read the same in every browser, whatever its language.
const GROUPED = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const CENTS = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const WHOLE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function humanised(name) {
  return String(name).replaceAll("_", " ");
}

export function targetLabel(name) {
  return TARGET_LABELS[name] ?? humanised(name);
}

export function path(...parts) {
  return parts.join(".");
}

function duration(seconds) {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds - hours * 3600) / 60);
  const left = Math.round((seconds - hours * 3600 - minutes * 60) * 100) / 100;
  const parts = [];
  if (hours) parts.push(`${WHOLE.format(hours)}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (left || !parts.length) parts.push(`${left}s`);
  return parts.join(" ");
}

/**
 * A value as the page writes it. Units: count, money (whole, or to the cent), rate (a fraction of
 * one, as a percentage), days, duration (seconds, as hours, minutes and seconds), month (YYYY-MM,
 * as its name and year), date (the day of an ISO time), met, flag (overridden or nothing), text.
 */
export function written(value, unit) {
  if (unit === "flag") return value ? "overridden" : "";
  if (value === null || value === undefined) return UNKNOWN;
  switch (unit) {
    case "count":
    case "days":
      return GROUPED.format(value);
    case "money":
      return Number.isInteger(value) ? WHOLE.format(value) : CENTS.format(value);
    case "rate":
      return `${GROUPED.format(value * 100)}%`;
    case "duration":
      return duration(value);
    case "month": {
      const [year, month] = String(value).split("-");
      return `${MONTHS[Number(month) - 1]} ${year}`;
    }
    case "date":
      return String(value).slice(0, 10);
    case "met":
      return value ? "met" : "not met";
    default:
      return String(value);
  }
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** One value of the document, written in its unit, in an element naming its path. */
export function figure(at, value, unit, className) {
  const node = element("span", className, written(value, unit));
  node.dataset.metric = at;
  node.dataset.unit = unit;
  if (unit === "met" && value !== null && value !== undefined) node.classList.add(value ? "met" : "missed");
  return node;
}

/** Running text with figures in it: parts are strings or nodes. */
export function sentence(tag, className, ...parts) {
  const node = element(tag, className);
  node.append(...parts);
  return node;
}

/** A table: `head` is a list of column titles (a title starting with "#" is a number column). */
export function table(className, head, rows) {
  const node = element("table", className);
  const top = element("tr");
  for (const title of head) {
    const cell = element("th", title.startsWith("#") ? "num" : "", title.replace(/^#/, ""));
    cell.scope = "col";
    top.append(cell);
  }
  const body = element("tbody");
  for (const cells of rows) {
    const row = element("tr");
    cells.forEach((content, i) => {
      const cell = element(i === 0 ? "th" : "td", head[i].startsWith("#") ? "num" : "");
      if (i === 0) cell.scope = "row";
      cell.append(content);
      row.append(cell);
    });
    body.append(row);
  }
  node.append(element("thead"), body);
  node.tHead.append(top);
  return node;
}
