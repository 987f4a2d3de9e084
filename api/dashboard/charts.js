// Small SVG charts and the intake map, drawn without libraries or internet tiles.
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function frame(svg, w, h, pad, yMax, unit) {
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (h - pad.t - pad.b) * (1 - i / 4);
    svg.append(el("line", { x1: pad.l, x2: w - pad.r, y1: y, y2: y, stroke: "#e3e7eb" }));
    svg.append(el("text", { x: pad.l - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6775" },
      (yMax * i / 4).toLocaleString(undefined, { maximumFractionDigits: 1 })));
  }
  svg.append(el("text", { x: pad.l, y: 12, "font-size": 11, fill: "#5b6775" }, unit));
}

// points: [{t: Date, v: number|null}] -> a line chart of v over time.
function lineChart(points, unit) {
  const w = 640, h = 220, pad = { l: 52, r: 12, t: 20, b: 26 };
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "data-points": points.length });
  const vals = points.map((p) => p.v).filter((v) => v !== null);
  const yMax = niceMax(Math.max(0, ...vals));
  frame(svg, w, h, pad, yMax, unit);
  if (points.length < 2) return svg;
  const t0 = points[0].t.getTime(), t1 = points[points.length - 1].t.getTime();
  const x = (t) => pad.l + (w - pad.l - pad.r) * ((t - t0) / Math.max(1, t1 - t0));
  const y = (v) => pad.t + (h - pad.t - pad.b) * (1 - v / yMax);
  let d = "";
  for (const p of points) if (p.v !== null) d += `${d ? "L" : "M"}${x(p.t.getTime()).toFixed(1)},${y(p.v).toFixed(1)}`;
  svg.append(el("path", { d, fill: "none", stroke: "#1f5f99", "stroke-width": 1.6, class: "series" }));
  for (const frac of [0, 0.5, 1]) {
    const t = new Date(t0 + (t1 - t0) * frac);
    svg.append(el("text", { x: x(t.getTime()), y: h - 6, "font-size": 11, fill: "#5b6775",
      "text-anchor": frac === 0 ? "start" : frac === 1 ? "end" : "middle" }, t.toLocaleDateString()));
  }
  return svg;
}

// bars: [{label: string, v: number, muted: bool}] -> a bar chart.
function barChart(bars, unit) {
  const w = 640, h = 220, pad = { l: 60, r: 12, t: 20, b: 26 };
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "data-points": bars.length });
  const yMax = niceMax(Math.max(0, ...bars.map((b) => b.v)));
  frame(svg, w, h, pad, yMax, unit);
  const slot = (w - pad.l - pad.r) / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const bh = (h - pad.t - pad.b) * (b.v / yMax);
    const rect = el("rect", { x: pad.l + i * slot + 1, y: h - pad.b - bh, width: Math.max(1, slot - 2), height: bh,
      fill: b.muted ? "#b8c2cc" : "#1f5f99", class: "bar" });
    rect.append(el("title", {}, `${b.label}: ${b.v}`));
    svg.append(rect);
    if (i % Math.ceil(bars.length / 6) === 0)
      svg.append(el("text", { x: pad.l + i * slot, y: h - 6, "font-size": 11, fill: "#5b6775" }, b.label.slice(5)));
  });
  return svg;
}

const STATUS_COLOURS = { online: "#1a9850", offline: "#d73027", never_reported: "#8c96a0", no_meter: "#c7ccd1" };

// features: GeoJSON points -> an equirectangular map (x scaled by cos of the mean latitude),
// points coloured by status, each county's name at the middle of its intakes.
function intakeMap(features, onPick) {
  const w = 900, h = 560, pad = 30;
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, role: "img" });
  if (!features.length) return svg;
  const lons = features.map((f) => f.geometry.coordinates[0]), lats = features.map((f) => f.geometry.coordinates[1]);
  const [lo0, lo1, la0, la1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
  const spanX = Math.max(0.01, (lo1 - lo0) * k), spanY = Math.max(0.01, la1 - la0);
  const scale = Math.min((w - 2 * pad) / spanX, (h - 2 * pad) / spanY);
  const ox = (w - spanX * scale) / 2, oy = (h - spanY * scale) / 2;
  const px = (lon) => ox + (lon - lo0) * k * scale, py = (lat) => h - oy - (lat - la0) * scale;
  const counties = {};
  for (const f of features) {
    const c = (counties[f.properties.county] ||= { x: 0, y: 0, n: 0 });
    c.x += f.geometry.coordinates[0]; c.y += f.geometry.coordinates[1]; c.n += 1;
  }
  const order = ["no_meter", "never_reported", "online", "offline"];  // offline drawn last, on top
  const sorted = [...features].sort((a, b) => order.indexOf(a.properties.status) - order.indexOf(b.properties.status));
  for (const f of sorted) {
    const [lon, lat] = f.geometry.coordinates;
    const dot = el("circle", { cx: px(lon).toFixed(1), cy: py(lat).toFixed(1), r: 5,
      fill: STATUS_COLOURS[f.properties.status] || "#999", "data-code": f.properties.code,
      "data-status": f.properties.status, "data-meter": f.properties.meter_id || "" });
    dot.append(el("title", {}, `${f.properties.name} (${f.properties.code})`));
    if (f.properties.meter_id) dot.addEventListener("click", () => onPick(f.properties.meter_id));
    svg.append(dot);
  }
  const placed = [];  // nudge a name down while it would overlap one already placed
  for (const [name, c] of Object.entries(counties)) {
    const x = px(c.x / c.n), width = 14 * name.length;
    let y = py(c.y / c.n) - 10;
    while (placed.some((p) => Math.abs(p.y - y) < 16 && Math.abs(p.x - x) < (p.width + width) / 2)) y += 16;
    placed.push({ x, y, width });
    svg.append(el("text", { x, y, "text-anchor": "middle", "font-size": 14,
      "font-weight": 600, fill: "#1d2733", "paint-order": "stroke", stroke: "#eef3f7", "stroke-width": 4, class: "county" }, name));
  }
  return svg;
}
