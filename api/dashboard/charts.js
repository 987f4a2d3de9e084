// Charts and the map of intakes (一张图) with Apache ECharts, served from /static/vendor (installed from
// the npm registry by scripts/dashboard-assets; nothing comes from a CDN). SVG renderer: crisp, and the
// browser tests can see what is drawn. Each chart is drawn once its container is on the page.
"use strict";

const STATUS_COLOURS = { online: "#1a9850", offline: "#d73027", never_reported: "#8c96a0", no_meter: "#c7ccd1" };
const STATUS_ORDER = ["no_meter", "never_reported", "online", "offline"];  // offline drawn last, on top
const charts = new Set();
window.addEventListener("resize", () => { for (const c of charts) if (!c.isDisposed()) c.resize(); });

// A container that becomes an ECharts chart with ``option`` once it is attached to the page.
function echart(className, height, option, ready) {
  const box = h("div", { class: `echart ${className}`, style: `height:${height}px` });
  const draw = () => {
    if (!box.isConnected) return requestAnimationFrame(draw);
    const chart = echarts.init(box, null, { renderer: "svg", locale: state.lang === "zh" ? "ZH" : "EN" });
    chart.setOption(option);
    charts.add(chart);
    if (ready) ready(chart);
  };
  requestAnimationFrame(draw);
  return box;
}

const AXIS = { axisLabel: { color: "#5b6775" }, splitLine: { lineStyle: { color: "#e3e7eb" } } };

// points: [{t: Date, v: number|null}] -> a line chart of v over time.
function lineChart(points, unit) {
  return echart("line-chart", 240, {
    grid: { left: 56, right: 16, top: 28, bottom: 48 },
    tooltip: { trigger: "axis" },
    dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 6 }],
    xAxis: { type: "time", ...AXIS },
    yAxis: { type: "value", name: unit, ...AXIS },
    series: [{ type: "line", name: unit, showSymbol: false, connectNulls: false, lineStyle: { width: 1.6 },
      itemStyle: { color: "#1f5f99" }, data: points.map((p) => [p.t, p.v]) }],
  });
}

// bars: [{label: string, v: number, muted: bool}] -> a bar chart (muted bars in grey).
function barChart(bars, unit) {
  return echart("bar-chart", 240, {
    grid: { left: 64, right: 16, top: 28, bottom: 28 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: bars.map((b) => b.label), ...AXIS },
    yAxis: { type: "value", name: unit, ...AXIS },
    series: [{ type: "bar", name: unit, data: bars.map((b) => ({ value: b.v, itemStyle: { color: b.muted ? "#b8c2cc" : "#1f5f99" } })) }],
  });
}

// features: the intakes (GeoJSON points); outlines: the county outlines of the caller's division (or
// none): a map with zoom and pan, each intake coloured by status (the legend filters by status),
// its name, status and share of its permit used on hover, a click opening its meter.
function intakeMap(features, outlines, onPick) {
  const name = `counties-${outlines.features.length}-${features.length}`;
  echarts.registerMap(name, outlines);
  const lons = features.map((f) => f.geometry.coordinates[0]), lats = features.map((f) => f.geometry.coordinates[1]);
  // the first view frames the intakes (pan and zoom reach the rest of the outlines)
  const pad = 0.15;
  const bounds = features.length
    ? [[Math.min(...lons) - pad, Math.max(...lats) + pad], [Math.max(...lons) + pad, Math.min(...lats) - pad]] : undefined;
  const share = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 1000) / 10}%`);
  const series = STATUS_ORDER.map((status) => ({
    type: "scatter", coordinateSystem: "geo", name: t(status), symbolSize: 8, z: 3 + STATUS_ORDER.indexOf(status),
    itemStyle: { color: STATUS_COLOURS[status], borderColor: "#fff", borderWidth: 0.5 },
    data: features.filter((f) => f.properties.status === status).map((f) => ({
      name: f.properties.name, value: f.geometry.coordinates, code: f.properties.code, meter: f.properties.meter_id,
      status, share: f.properties.permit_used_share })),
  }));
  return echart("intake-map", 560, {
    tooltip: { trigger: "item", formatter: (p) => p.seriesType === "scatter"
      ? `${p.data.name} (${p.data.code})<br>${t(p.data.status)} · ${t("permit_used")} ${share(p.data.share)}`
      : p.name },
    legend: { top: 4, left: 4, data: series.map((s) => s.name) },
    geo: { map: name, roam: true, boundingCoords: bounds, scaleLimit: { min: 0.5, max: 40 },
      label: { show: true, fontSize: 11, color: "#1d2733" }, itemStyle: { areaColor: "#f2f5f8", borderColor: "#7a8a99", borderWidth: 0.8 },
      emphasis: { label: { show: true }, itemStyle: { areaColor: "#dde6ee" } }, select: { disabled: true } },
    series,
  }, (chart) => chart.on("click", (p) => { if (p.seriesType === "scatter" && p.data.meter) onPick(p.data.meter); }));
}
