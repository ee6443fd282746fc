// The usage-trends charts of /trends/{id}, drawn with the vendored uPlot 1.6.32 (loaded before this
// module as a classic script: window.uPlot) from the figures the page embeds as JSON (#trends-data).
// The page's tables carry the same figures, and are what it shows without JavaScript. Each chart is a
// focusable group: ←/→, Home and End move the cursor point by point, and the values are read out.

const uPlot = window.uPlot;
const HEIGHT_PX = 240;
// The colours of palette.css (its custom properties; no colour is written here), as the report's SVG
// charts use them: at least 3:1 against the page (WCAG 1.4.11).
const palette = getComputedStyle(document.documentElement);
const colour = (name) => palette.getPropertyValue(`--${name}`).trim();
/** A palette colour (#rrggbb) at an opacity, for the bars' fills. */
function faded(name, alpha) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour(name).slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
const COLOURS = { calls: colour("series-1"), forecast: colour("muted"), growth: colour("series-2"), errors: colour("bad"),
                  p95: colour("series-1"), quota: colour("bad") };
const FILLS = { calls: faded("series-1", 0.8), forecast: faded("muted", 0.2) };
const FORECAST_DASH = [6, 4];
const QUOTA_DASH = [3, 3];

const page = JSON.parse(document.getElementById("trends-data").textContent);
const texts = page.texts;
const locale = document.documentElement.lang;  // Intl takes the page's language as it is ("ko", "en")
const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
const format = {
  count: (v) => whole.format(v),
  percent: (v) => `${decimal.format(v)}%`,
  growth: (v) => `${v > 0 ? "+" : ""}${decimal.format(v)}%`,
  ms: (v) => `${whole.format(v)} ms`,
};

/** One plotted series: its values, how a value reads, and uPlot's options. */
function series(label, values, formatter, options) {
  return { label, values, formatter, options: { label, width: 2, value: (u, v) => (v == null ? "—" : formatter(v)), ...options } };
}

/** An axis as wide as its longest tick label (uPlot's fixed default clips "+4,000%"). */
function fitLabels(u, values, axisIndex, cycle) {
  const axis = u.axes[axisIndex];
  if (cycle > 1) return axis._size;
  const longest = (values || []).reduce((a, b) => (String(b).length > a.length ? String(b) : a), "");
  u.ctx.font = axis.font[0];
  return Math.ceil(axis.ticks.size + axis.gap + u.ctx.measureText(longest).width / uPlot.pxRatio) + 4;
}

/** A y axis on a scale, its ticks written with `tick`. */
function axis(scale, tick, options = {}) {
  return { scale, size: fitLabels, values: (u, splits) => splits.map((v) => tick(v)), ...options };
}

/** A scale from 0 to a little above the largest value (1 when everything is 0). */
function fromZero() {
  return { range: (u, min, max) => [Math.min(0, min ?? 0), (max ?? 0) * 1.1 || 1] };
}

/** Categories (months, days) at x = 0, 1, 2 …; as many tick labels as fit, `short` of each. */
function categoryAxis(labels, short) {
  return {
    splits: (u) => {
      const fit = Math.max(1, Math.floor(u.bbox.width / uPlot.pxRatio / 64));
      const every = Math.ceil(labels.length / fit);
      return labels.map((_, i) => i).filter((i) => i % every === 0);
    },
    values: (u, splits) => splits.map((i) => short(labels[i] ?? "")),
  };
}

function labelCanvas(plot, name) {
  const canvas = plot.root.querySelector("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", document.getElementById(`chart-${name}-caption`).textContent);
  canvas.setAttribute("aria-describedby", `chart-${name}-description`);
}

function followWidth(plot, box) {
  let pending = false;
  new ResizeObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {  // outside the observer's callback: no resize loop
      pending = false;
      if (box.clientWidth && box.clientWidth !== plot.width) plot.setSize({ width: box.clientWidth, height: HEIGHT_PX });
    });
  }).observe(box);
}

/** ←/→, Home, End: move the cursor to a category and read its values out; Esc: back to the hint. */
function keyboard(plot, box, readout, labels, plotted) {
  const last = labels.length - 1;
  let index = -1;
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      index = -1;
      plot.setCursor({ left: -10, top: -10 });
      readout.textContent = texts.chart_keys;
      return;
    }
    const next = { ArrowRight: Math.min(last, index + 1), ArrowLeft: index < 0 ? last : Math.max(0, index - 1),
                   Home: 0, End: last }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    index = next;
    plot.setCursor({ left: plot.valToPos(index, "x"), top: plot.bbox.height / uPlot.pxRatio / 2 });
    const values = plotted.filter((s) => s.values[index] != null).map((s) => `${s.label} ${s.formatter(s.values[index])}`);
    readout.textContent = [labels[index], ...values].join(", ");
  });
}

/** Draw one chart into #chart-{name} and show its figure. */
function draw(name, { labels, xLabel, short = (l) => l, plotted, scales, axes, bands = [] }) {
  const figure = document.getElementById(`figure-${name}`);
  const box = document.getElementById(`chart-${name}`);
  figure.hidden = false;
  const options = {
    width: box.clientWidth || 600,
    height: HEIGHT_PX,
    scales: { x: { time: false, range: () => [-0.5, labels.length - 0.5] }, ...scales },
    axes: [categoryAxis(labels, short), ...axes],
    series: [{ label: xLabel, value: (u, i) => labels[i] ?? "" }, ...plotted.map((s) => s.options)],
    bands,
    cursor: { drag: { x: false, y: false, setScale: false } },
    legend: { markers: { dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } },  // the forecast's key too
  };
  const plot = new uPlot(options, [labels.map((_, i) => i), ...plotted.map((s) => s.values)], box);
  labelCanvas(plot, name);
  followWidth(plot, box);
  keyboard(plot, box, document.getElementById(`chart-${name}-readout`), labels, plotted);
  return plot;
}

/** Monthly calls as bars, the forecast as lighter dashed bars standing on the calls so far (the
 * running month) or on the axis (months ahead), month-over-month growth as a line on its own axis. */
function monthlyCalls({ monthly, forecast }) {
  const known = new Set(monthly.map((m) => m.month));
  const labels = [...monthly.map((m) => m.month), ...forecast.months.map((f) => f.month).filter((m) => !known.has(m))];
  const forecastOf = new Map(forecast.months.map((f) => [f.month, f.calls]));
  const calls = labels.map((_, i) => (i < monthly.length ? monthly[i].calls : null));
  const ahead = labels.map((label, i) => (forecastOf.get(label) > (calls[i] ?? 0) ? forecastOf.get(label) : null));
  const growth = labels.map((_, i) => (i < monthly.length ? monthly[i].growthPercent : null));
  const bars = uPlot.paths.bars({ size: [0.6, 64] });
  return draw("calls", {
    labels, xLabel: texts.month,
    plotted: [
      series(texts.calls, calls, format.count, { scale: "calls", stroke: COLOURS.calls, fill: FILLS.calls, paths: bars,
                                                 points: { show: false } }),
      series(texts.forecast, ahead, format.count, { scale: "calls", stroke: COLOURS.forecast, fill: FILLS.forecast,
                                                    dash: FORECAST_DASH, paths: bars, points: { show: false } }),
      series(texts.growth, growth, format.growth, { scale: "growth", stroke: COLOURS.growth,
                                                    points: { show: true, size: 7 } }),
    ],
    bands: [{ series: [2, 1] }],  // the forecast bar starts where the calls so far end
    scales: { calls: fromZero(), growth: {} },
    axes: [axis("calls", (v) => compact.format(v)),
           axis("growth", format.growth, { side: 1, grid: { show: false } })],
  });
}

function monthlyLine(name, trends, label, pick, formatter, colour, tick) {
  const months = trends.monthly;
  return draw(name, {
    labels: months.map((m) => m.month), xLabel: texts.month,
    plotted: [series(label, months.map(pick), formatter, { scale: "y", stroke: colour, points: { show: true, size: 6 } })],
    scales: { y: fromZero() },
    axes: [axis("y", tick)],
  });
}

/** Calls per day, and the tier's daily quota as a dashed line (none for an unlimited tier). */
function dailyCalls({ daily, capacity }) {
  const plotted = [series(texts.calls, daily.map((d) => d.calls), format.count, { scale: "y", stroke: COLOURS.calls })];
  if (capacity.dailyRequests != null) {
    plotted.push(series(texts.daily_quota, daily.map(() => capacity.dailyRequests), format.count,
                        { scale: "y", stroke: COLOURS.quota, dash: QUOTA_DASH, points: { show: false } }));
  }
  return draw("daily-calls", {
    labels: daily.map((d) => d.date), xLabel: texts.date, short: (date) => date.slice(5),
    plotted,
    scales: { y: fromZero() },
    axes: [axis("y", (v) => compact.format(v))],
  });
}

const trends = page.trends;
monthlyCalls(trends);
monthlyLine("error-rate", trends, texts.error_rate, (m) => (m.calls ? m.errorRate : null), format.percent,
            COLOURS.errors, format.percent);
monthlyLine("p95", trends, texts.p95_latency, (m) => m.p95LatencyMs, format.ms, COLOURS.p95, (v) => `${whole.format(v)}`);
dailyCalls(trends);
