// The alert pages (templates/alerts/): the rule preview chart, the rule form's fields by kind, the
// channel form's config fields by kind, and confirmations before deletes. No inline script (CSP):
// data comes from JSON script tags and attributes, listeners are delegated to the document.
//
// A preview chart is a <div data-alert-chart> holding a JSON script with
//   {times: [unix seconds], values, threshold, lower, upper, fired, unit, label, timezone}
// (alerts/views/selectors.py chart_data): the value line, the threshold as a dashed line or the
// anomaly band between lower and upper, and a marker wherever the rule would have fired.
(function () {
  "use strict";

  const VALUE = "#3b5bdb";
  const BAD = "#c92a2a";
  const BAND = "rgba(43, 138, 62, 0.12)";
  const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

  function format(value, unit) {
    if (value === null || value === undefined) return "–";
    return numberFormat.format(value) + (unit === "%" ? " %" : "");
  }

  function readData(element) {
    const script = element.querySelector('script[type="application/json"]');
    if (!script) return null;
    try {
      const data = JSON.parse(script.textContent);
      return Array.isArray(data.times) && Array.isArray(data.values) ? data : null;
    } catch (error) {
      return null;
    }
  }

  function chartSeries(data) {
    const columns = [data.times, data.values];
    const series = [{ label: "Time" }, { label: data.label || "value", stroke: VALUE, width: 2, spanGaps: false }];
    const bands = [];
    if (data.lower && data.upper) {
      columns.push(data.upper, data.lower);
      series.push({ label: "upper bound", stroke: "#2b8a3e", width: 1, dash: [4, 4] });
      series.push({ label: "lower bound", stroke: "#2b8a3e", width: 1, dash: [4, 4] });
      bands.push({ series: [2, 3], fill: BAND });
    } else if (data.threshold !== null && data.threshold !== undefined) {
      columns.push(data.times.map(function () { return data.threshold; }));
      series.push({ label: "threshold", stroke: BAD, width: 1.5, dash: [6, 4], points: { show: false } });
    }
    columns.push(data.fired);
    series.push({
      label: "would fire",
      stroke: BAD,
      fill: BAD,
      paths: function () { return null; }, // markers only, no line
      points: { show: true, size: 10, fill: BAD, stroke: BAD },
    });
    series.forEach(function (item, index) {
      if (index > 0) item.value = function (u, value) { return format(value, data.unit); };
    });
    return { columns: columns, series: series, bands: bands };
  }

  function draw(element) {
    if (element.alertChart || typeof uPlot === "undefined") return;
    const data = readData(element);
    if (!data) return;
    element.querySelectorAll(":scope > .uplot").forEach(function (old) { old.remove(); });
    const built = chartSeries(data);
    const timezone = data.timezone || "UTC";
    const options = {
      width: element.clientWidth || 600,
      height: parseInt(element.dataset.height, 10) || 260,
      tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), timezone); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.1 : 1]; } } },
      series: built.series,
      bands: built.bands,
      axes: [{}, { values: function (u, splits) { return splits.map(function (v) { return format(v, data.unit); }); }, size: 60 }],
      cursor: { drag: { x: false, y: false } },
    };
    const chart = new uPlot(options, built.columns, element);
    element.alertChart = chart;
    const observer = new ResizeObserver(function () {
      if (!element.isConnected) { observer.disconnect(); chart.destroy(); return; }
      const width = element.clientWidth;
      if (width && width !== chart.width) chart.setSize({ width: width, height: chart.height });
    });
    observer.observe(element);
  }

  function renderCharts(root) {
    (root || document).querySelectorAll("[data-alert-chart]").forEach(draw);
  }

  // --- the rule form: only the fields of the chosen kind (and anomaly mode) ----------------------

  function showRuleFields(form) {
    const kind = form.elements.namedItem("kind");
    const mode = form.elements.namedItem("anomaly_mode");
    if (!kind) return;
    form.querySelectorAll("[data-kinds]").forEach(function (element) {
      element.hidden = element.dataset.kinds.split(" ").indexOf(kind.value) < 0;
    });
    form.querySelectorAll("[data-mode]").forEach(function (element) {
      const usedByKind = !element.dataset.kinds || element.dataset.kinds.split(" ").indexOf(kind.value) >= 0;
      element.hidden = !usedByKind || !mode || element.dataset.mode !== mode.value;
    });
  }

  // --- the channel form: only the chosen kind's config fields (the others are not sent) ---------

  function showConfigFields(form) {
    const kind = form.querySelector("[data-channel-kind]");
    if (!kind) return;
    form.querySelectorAll("[data-config-kind]").forEach(function (fieldset) {
      const chosen = fieldset.dataset.configKind === kind.value;
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen;
    });
  }

  function setUp(root) {
    renderCharts(root);
    document.querySelectorAll("[data-rule-form]").forEach(showRuleFields);
    document.querySelectorAll("[data-channel-form]").forEach(showConfigFields);
  }

  document.addEventListener("change", function (event) {
    const ruleForm = event.target.closest("[data-rule-form]");
    if (ruleForm && (event.target.name === "kind" || event.target.name === "anomaly_mode")) showRuleFields(ruleForm);
    const channelForm = event.target.closest("[data-channel-form]");
    if (channelForm && event.target.matches("[data-channel-kind]")) showConfigFields(channelForm);
  });

  // Adding or removing a filter row changes the rule without a change event: refresh the preview.
  document.addEventListener("click", function (event) {
    const form = event.target.closest("[data-rule-form]");
    if (!form || !event.target.closest("[data-remove], [data-add]")) return;
    setTimeout(function () { if (window.htmx) window.htmx.trigger(form, "rule-form-changed"); }, 0);
  });

  document.addEventListener("submit", function (event) {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUp(); });
  } else {
    setUp();
  }
  document.addEventListener("htmx:afterSettle", function (event) { renderCharts(event.detail.elt); });
  document.addEventListener("htmx:historyRestore", function () { setUp(); });
})();
