// A debug session's page (templates/verify/debug_session.html).
(function () {
  "use strict";

  // The report refreshes itself, but not while someone types a verdict's note: the swap would wipe it.
  document.body.addEventListener("htmx:confirm", function (event) {
    var report = event.detail.elt;
    if (report.id === "session-report" && report.contains(document.activeElement)) event.preventDefault();
  });

  // The events list is re-rendered as events arrive: keep the rows a developer opened open.
  var open = [];
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target.id !== "session-events-card") return;
    open = Array.from(document.querySelectorAll("#session-events details[open]")).map(function (row) {
      return row.dataset.key;
    });
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    open.forEach(function (key) {
      var row = document.querySelector('#session-events details[data-key="' + CSS.escape(key) + '"]');
      if (row) row.open = true;
    });
  });
})();
