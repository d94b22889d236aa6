// Small behaviours any page may ask for with a data attribute. The Content-Security-Policy runs no
// inline handler (onchange=, onsubmit=): templates say what they want here instead. The listeners
// are delegated, so elements htmx swaps in later work too.
//   <select data-autosubmit>                 submits its form when it changes
//   <select data-navigate-param="name">      reloads the page with ?name=<the chosen value>
//   <form data-confirm="Delete it?">         asks before submitting
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches("[data-autosubmit]") && field.form) {
      field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    } else if (field.matches("[data-navigate-param]")) {
      var query = new URLSearchParams();
      query.set(field.getAttribute("data-navigate-param"), field.value);
      window.location.search = "?" + query.toString();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
})();
