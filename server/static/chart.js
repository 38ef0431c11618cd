// Tiny SVG charts for the Insights page: no library, no network. Labels are set with
// textContent; colours come from CSS classes so light and dark themes both work.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * Stacked bars: one bar per row, one segment per series ({key, label, className}).
 * `label(row)` names the x position. Returns an <svg role="img"> with a <title>.
 */
export function stackedBars(rows, series, { title, label, width = 720, height = 260 } = {}) {
  const margin = { top: 12, right: 8, bottom: 30, left: 34 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const totals = rows.map((row) => series.reduce((sum, s) => sum + (Number(row[s.key]) || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  root.append(svg("title", {}, title));
  for (let t = 0; t <= 4; t += 1) {
    const value = (max / 4) * t;
    const y = margin.top + plotH - (value / max) * plotH;
    root.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y, y2: y, class: "axis" }));
    root.append(svg("text", { x: margin.left - 6, y: y + 4, "text-anchor": "end" }, String(Math.round(value * 10) / 10)));
  }
  const slot = rows.length ? plotW / rows.length : plotW;
  const barW = Math.max(2, Math.min(42, slot * 0.7));
  const every = Math.max(1, Math.ceil(rows.length / Math.max(1, Math.floor(plotW / 60))));
  rows.forEach((row, i) => {
    const x = margin.left + i * slot + (slot - barW) / 2;
    let y = margin.top + plotH;
    const group = svg("g", { "data-date": label(row) });
    for (const s of series) {
      const count = Number(row[s.key]) || 0;
      if (!count) continue;
      const h = (count / max) * plotH;
      y -= h;
      const rect = svg("rect", { x, y, width: barW, height: Math.max(h, 0.5), rx: 2, class: s.className, "data-series": s.key, "data-count": count });
      rect.append(svg("title", {}, `${label(row)} · ${s.label}: ${count}`));
      group.append(rect);
    }
    root.append(group);
    if (i % every === 0) {
      root.append(svg("text", { x: x + barW / 2, y: height - 10, "text-anchor": "middle" }, label(row)));
    }
  });
  return root;
}

/** Horizontal bars with value labels, e.g. latency percentiles. */
export function horizontalBars(items, { title, unit = "", width = 300 } = {}) {
  const rowH = 24;
  const labelW = 40;
  const valueW = 70;
  const height = items.length * rowH + 4;
  const max = Math.max(1, ...items.map((item) => Number(item.value) || 0));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  root.append(svg("title", {}, title));
  items.forEach((item, i) => {
    const y = 2 + i * rowH;
    const barMax = width - labelW - valueW;
    const w = ((Number(item.value) || 0) / max) * barMax;
    root.append(svg("text", { x: 0, y: y + 15 }, item.label));
    root.append(svg("rect", { x: labelW, y: y + 4, width: barMax, height: 14, rx: 3, class: "fill-track" }));
    root.append(svg("rect", { x: labelW, y: y + 4, width: Math.max(w, 1), height: 14, rx: 3, class: "fill-accent" }));
    root.append(svg("text", { x: width - valueW + 6, y: y + 15 }, `${Math.round(Number(item.value) || 0)}${unit}`));
  });
  return root;
}

/** A single 0..1 meter bar. */
export function meter(fraction, { title, className = "fill-fallback", width = 300 } = {}) {
  const value = Math.min(1, Math.max(0, Number(fraction) || 0));
  const root = svg("svg", { viewBox: `0 0 ${width} 14`, role: "img", "aria-label": title });
  root.append(svg("title", {}, title));
  root.append(svg("rect", { x: 0, y: 2, width, height: 10, rx: 5, class: "fill-track" }));
  root.append(svg("rect", { x: 0, y: 2, width: Math.max(value * width, value ? 4 : 0), height: 10, rx: 5, class: className }));
  return root;
}
