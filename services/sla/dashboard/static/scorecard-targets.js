// The scorecard's first panel: each agreed target against its actual, with attainment, met or not,
// who owns it, what the actual is made of, and the three months before as small columns.
import { trend } from "./charts.js";
import { MONTHS, element, figure, humanised, path, sentence, table, targetLabel, written } from "./scorecard-figures.js";

function tone(met) {
  return met === null || met === undefined ? "muted" : met ? "good" : "poor";
}

// The counts an actual is made of (entries, accepted and rejected, deals left out for their currency).
function details(row, at) {
  const parts = Object.entries(row.details ?? {})
    .filter(([, value]) => typeof value === "number")
    .flatMap(([key, value], i) => [i ? " · " : "", `${humanised(key)} `, figure(path(at, "details", key), value, "count")]);
  return parts.length ? sentence("p", "details", ...parts) : "";
}

function named(row, at) {
  const cell = element("div", "target-name");
  cell.append(element("strong", "", targetLabel(row.name)));
  if (row.better === "lower") cell.append(element("small", "better", "lower is better"));
  const made = details(row, at);
  if (made) cell.append(made);
  return cell;
}

function goal(row, at) {
  const cell = element("span");
  cell.append(figure(path(at, "target"), row.target, row.unit));
  // An override is the teams' own decision for that month: it is said beside the number.
  if (row.overridden) cell.append(" ", figure(path(at, "overridden"), true, "flag", "flag"));
  return cell;
}

function shortMonth(month) {
  return MONTHS[Number(month.split("-")[1]) - 1].slice(0, 3);
}

function periodOf(row, at, month) {
  const said = (value) => written(value, row.unit);
  const overridden = row.overridden ? " (overridden)" : "";
  return {
    label: shortMonth(month),
    title: `${written(month, "month")}: ${said(row.actual)} against ${said(row.target)}${overridden}, ${written(row.met, "met")}`,
    target: { value: row.target, metric: row.target === null ? null : path(at, "target") },
    actual: { value: row.actual, metric: row.actual === null ? null : path(at, "actual") },
    tone: tone(row.met),
  };
}

function history(row, at, month) {
  const holder = element("div", "trend-chart");
  const periods = row.trend.map((before, i) => periodOf(before, path(at, "trend", i), before.month));
  if (month) periods.push(periodOf(row, at, month));
  trend(holder, periods, { chart: `trend-${row.name}`, title: `${targetLabel(row.name)}: actual and target by month` });
  return holder;
}

/** The targets table, or a line saying the contract agrees none. */
export function drawTargets(container, document) {
  const rows = document.targets.map((row) => {
    const at = path("targets", row.name);
    const owner = figure(path(at, "owner"), row.owner, "text", `owner owner-${row.owner}`);
    return [
      named(row, at),
      owner,
      figure(path(at, "actual"), row.actual, row.unit, "actual"),
      goal(row, at),
      figure(path(at, "attainment"), row.attainment, "rate"),
      figure(path(at, "met"), row.met, "met", "result"),
      history(row, at, document.period.month),
    ];
  });
  if (!rows.length) {
    container.replaceChildren(element("p", "empty", "The contract agrees no targets (targets.monthly)."));
    return;
  }
  const trendTitle = document.period.month ? "three months before, and this one" : "three months before";
  container.replaceChildren(table("targets", ["target", "owner", "#actual", "#target", "#attainment", "result", trendTitle], rows));
}
