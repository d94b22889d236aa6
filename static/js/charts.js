// Beacon's charts: every <div data-chart> holding a <script type="application/json"> child with
//   {buckets: [unix seconds], series: [{label, values, compare}], interval, timezone}
// becomes a uPlot line chart (static/vendor/uPlot-*.iife.min.js, loaded before this file): on page
// load, after every htmx swap and after htmx restores a page from its history, resized with its
// container. A previous-period series ("compare": "previous") is dashed, in the colour of the
// series it compares with. The x axis and the legend read time in the project's zone (uPlot.tzDate).
// Data comes from JSON script tags and behaviour from this file: no inline script (CSP).
// window.BeaconCharts.render(root) draws charts added by other means.
(function () {
  "use strict";

  const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#1098ad", "#f08c00", "#5c940d", "#862e9c", "#495057"];
  const DEFAULT_HEIGHT = 280;
  const LEGEND_DATE = {
    "15min": "{YYYY}-{MM}-{DD} {HH}:{mm}",
    hour: "{YYYY}-{MM}-{DD} {HH}:{mm}",
    day: "{WWW} {YYYY}-{MM}-{DD}",
    week: "week of {YYYY}-{MM}-{DD}",
  };
  const drawn = new Set(); // {element, chart, observer}

  const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  function formatNumber(value) {
    return value === null || value === undefined ? "–" : numberFormat.format(value);
  }

  function readData(element) {
    const script = element.querySelector('script[type="application/json"]');
    if (!script) return null;
    try {
      const data = JSON.parse(script.textContent);
      return Array.isArray(data.buckets) && Array.isArray(data.series) ? data : null;
    } catch (error) {
      return null;
    }
  }

  function seriesOptions(data) {
    let current = 0;
    let previous = 0;
    return data.series.map(function (item) {
      const isPrevious = item.compare === "previous";
      const colour = PALETTE[(isPrevious ? previous++ : current++) % PALETTE.length];
      return {
        label: item.label,
        stroke: colour,
        width: isPrevious ? 1.5 : 2,
        dash: isPrevious ? [6, 4] : undefined,
        spanGaps: false,
        points: { show: data.buckets.length <= 60 },
        value: function (u, value) { return formatNumber(value); },
      };
    });
  }

  function options(element, data) {
    const timezone = data.timezone || "UTC";
    return {
      width: element.clientWidth || 600,
      height: parseInt(element.dataset.height, 10) || DEFAULT_HEIGHT,
      tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), timezone); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.05 : 1]; } } },
      series: [{ label: "Time", value: LEGEND_DATE[data.interval] || LEGEND_DATE.hour }].concat(seriesOptions(data)),
      axes: [
        {},
        {
          values: function (u, splits) { return splits.map(formatNumber); },
          size: function (u, values) {
            const longest = values ? Math.max.apply(null, values.map(function (text) { return String(text).length; })) : 4;
            return Math.max(40, longest * 8 + 18);
          },
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  function draw(element) {
    if (element.beaconChart || typeof uPlot === "undefined") return;
    const data = readData(element);
    if (!data) return;
    // A page htmx restored from its history holds the old chart's markup, without its canvas drawing.
    element.querySelectorAll(":scope > .uplot").forEach(function (old) { old.remove(); });
    const columns = [data.buckets].concat(data.series.map(function (item) { return item.values; }));
    const chart = new uPlot(options(element, data), columns, element);
    element.beaconChart = chart;
    const observer = new ResizeObserver(function () {
      const width = element.clientWidth;
      if (width && width !== chart.width) chart.setSize({ width: width, height: chart.height });
    });
    observer.observe(element);
    drawn.add({ element: element, chart: chart, observer: observer });
  }

  function forget() {
    drawn.forEach(function (entry) {
      if (entry.element.isConnected) return;
      entry.observer.disconnect();
      entry.chart.destroy();
      drawn.delete(entry);
    });
  }

  function render(root) {
    forget();
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  window.BeaconCharts = { render: render };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { render(); });
  } else {
    render();
  }
  document.addEventListener("htmx:afterSettle", function () { render(); });
  document.addEventListener("htmx:historyRestore", function () { render(); });
})();
