// Horizontal bar charts as inline SVG, built with DOM calls (never markup strings), so lead
// keys, owners and stage names from the wire can never become markup.

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
 * row: {label, value (number|null), text, marker (number, optional), tone (css class, optional), title (optional)}
 * options: {max: scale maximum (default: the largest value or marker), centered: bars grow from the middle}
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
  chart.append(svg("title", {}, options.title ?? ""));
  rows.forEach((row, i) => {
    const y = i * ROW_H + 2;
    const group = svg("g", { class: `row ${row.tone ?? ""}`.trim() });
    const label = svg("text", { x: labelW - 8, y: y + BAR_H - 3, "text-anchor": "end", class: "label" }, clip(row.label, Math.floor((labelW - 10) / CHAR_W)));
    label.append(svg("title", {}, row.title ?? row.label));
    group.append(label);
    group.append(svg("rect", { x: labelW, y, width: area, height: BAR_H, rx: 3, class: "track" }));
    if (row.value !== null && row.value !== undefined) {
      const w = Math.max(row.value > 0 ? 2 : 0, (Math.min(row.value, scaleMax) / scaleMax) * area);
      const x = options.centered ? labelW + (area - w) / 2 : labelW;
      group.append(svg("rect", { x, y, width: w, height: BAR_H, rx: 3, class: "bar" }));
    }
    if (row.marker !== null && row.marker !== undefined) {
      const mx = labelW + (Math.min(row.marker, scaleMax) / scaleMax) * area;
      group.append(svg("rect", { x: Math.min(mx, labelW + area - 3), y: y - 2, width: 3, height: BAR_H + 4, class: "marker" }));
    }
    group.append(svg("text", { x: labelW + area + 8, y: y + BAR_H - 3, class: "value" }, row.text));
    chart.append(group);
  });
  container.append(chart);
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
