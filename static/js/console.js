// The SQL console (templates/analysis/console.html): Ctrl+Enter (Cmd+Enter) in the query runs it,
// as a click on Run does.
(function () {
  "use strict";
  var query = document.getElementById("sql-query");
  var run = document.getElementById("console-run");
  if (!query || !run) return;
  query.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    run.click();
  });
})();
