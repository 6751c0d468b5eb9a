// Bar and column charts as inline SVG, built with DOM calls (never markup strings), so lead
// keys, owners and stage names from the wire can never become markup.
//
// A row or column may name where its number comes from (`metric`, a path in the document the
// page was drawn from): its mark then carries data-metric and data-value, and its value text
// data-metric and data-unit, so what is drawn can be checked against the data (the scorecard's).

// The SVG namespace is an identifier, not a location: nothing is fetched from it.
const SVG_NS = "http://www.w3.org/2000/svg";
const FALLBACK_WIDTH = 460; // when the container is not laid out yet (hidden)
const CHAR_W = 6.8; // about one character of the 12px chart font
const ROW_H = 26;
const BAR_H = 16;

function svg(name, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Draw one bar per row into `container` (its content is replaced).
 * row: {label, value (number|null), text, marker (number, optional), tone (css class, optional), title (optional),
 *       metric and unit (optional: the value's path and unit), labelMetric (optional: the label's path)}
 * options: {max: scale maximum (default: the largest value or marker), centered: bars grow from the middle,
 *           chart: a name for the chart (data-chart)}
 */
export function bars(container, rows, options = {}) {
  container.replaceChildren();
  if (!rows.length) return;
  const scaleMax = options.max ?? Math.max(1e-9, ...rows.map((r) => Math.max(r.value ?? 0, r.marker ?? 0)));
  // One SVG unit per CSS pixel, so text is the same size in every panel, however wide.
  const width = Math.max(240, container.clientWidth || FALLBACK_WIDTH);
  const longest = (key) => Math.max(...rows.map((r) => r[key].length));
  const labelW = Math.min(width * 0.35, longest("label") * CHAR_W + 12);
  const textW = Math.min(width * 0.35, longest("text") * CHAR_W + 12);
  const area = width - labelW - textW;
  const height = rows.length * ROW_H + 4;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", class: "bars" });
  if (options.chart) chart.setAttribute("data-chart", options.chart);
  chart.append(svg("title", {}, options.title ?? ""));
  rows.forEach((row, i) => {
    const y = i * ROW_H + 2;
    const group = svg("g", { class: `row ${row.tone ?? ""}`.trim() });
    const label = svg("text", { x: labelW - 8, y: y + BAR_H - 3, "text-anchor": "end", class: "label" }, clip(row.label, Math.floor((labelW - 10) / CHAR_W)));
    if (row.labelMetric) traced(label, row.labelMetric, { "data-unit": "text" });
    label.append(svg("title", {}, row.title ?? row.label));
    group.append(label);
    group.append(svg("rect", { x: labelW, y, width: area, height: BAR_H, rx: 3, class: "track" }));
    if (row.value !== null && row.value !== undefined) {
      const w = Math.max(row.value > 0 ? 2 : 0, (Math.min(row.value, scaleMax) / scaleMax) * area);
      const x = options.centered ? labelW + (area - w) / 2 : labelW;
      const bar = svg("rect", { x, y, width: w, height: BAR_H, rx: 3, class: "bar" });
      if (row.metric) traced(bar, row.metric, { "data-value": row.value });
      group.append(bar);
    }
    if (row.marker !== null && row.marker !== undefined) {
      const mx = labelW + (Math.min(row.marker, scaleMax) / scaleMax) * area;
      group.append(svg("rect", { x: Math.min(mx, labelW + area - 3), y: y - 2, width: 3, height: BAR_H + 4, class: "marker" }));
    }
    const value = svg("text", { x: labelW + area + 8, y: y + BAR_H - 3, class: "value" }, row.text);
    if (row.metric) traced(value, row.metric, { "data-unit": row.unit });
    group.append(value);
    chart.append(group);
  });
  container.append(chart);
}

const COLUMN_W = 16;
const COLUMN_GAP = 12;
const COLUMN_H = 40; // the tallest column
const LABEL_H = 14;

/**
 * Small columns, one per period, for a trend: the target a dashed outline, the actual a filled
 * bar inside it, both on one scale from zero (a missing value draws nothing).
 * period: {label, title, target: {value, metric}, actual: {value, metric}, tone (css class, optional)}
 * options: {chart: a name for the chart (data-chart), title}
 */
export function trend(container, periods, options = {}) {
  container.replaceChildren();
  const values = periods.flatMap((p) => [p.target.value, p.actual.value]).filter((v) => v !== null && v !== undefined);
  const scaleMax = Math.max(1e-9, ...values);
  const width = periods.length * (COLUMN_W + COLUMN_GAP);
  const base = COLUMN_H + 2;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${base + LABEL_H}`, width, height: base + LABEL_H, role: "img", class: "trend" });
  if (options.chart) chart.setAttribute("data-chart", options.chart);
  chart.append(svg("title", {}, options.title ?? ""));
  periods.forEach((period, i) => {
    const x = i * (COLUMN_W + COLUMN_GAP) + COLUMN_GAP / 2;
    const group = svg("g", { class: `column ${period.tone ?? ""}`.trim() });
    group.append(svg("title", {}, period.title));
    const column = (mark, inset, className) => {
      if (mark.value === null || mark.value === undefined) return;
      const h = (Math.max(mark.value, 0) / scaleMax) * COLUMN_H;
      const rect = svg("rect", { x: x + inset, y: base - h, width: COLUMN_W - 2 * inset, height: h, class: className });
      if (mark.metric) traced(rect, mark.metric, { "data-value": mark.value });
      group.append(rect);
    };
    column(period.target, 0, "target");
    column(period.actual, 3, "bar");
    group.append(svg("text", { x: x + COLUMN_W / 2, y: base + LABEL_H - 2, "text-anchor": "middle", class: "label" }, period.label));
    chart.append(group);
  });
  container.append(chart);
}

function traced(node, metric, attributes) {
  node.setAttribute("data-metric", metric);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
}

function clip(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

export function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${Math.round(rate * 1000) / 10}%`;
}

export function duration(hours) {
  if (hours === null || hours === undefined) return "–";
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Math.round(hours * 10) / 10} h`;
  return `${Math.round((hours / 24) * 10) / 10} d`;
}
