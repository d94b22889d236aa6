// Swagger UI at /api/docs/ (templates/drf_spectacular/swagger_ui.html): drf-spectacular's inline init
// script, as a file the CSP allows. The schema is public (no schema authentication to re-send).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var data = root.dataset;
  window.ui = SwaggerUIBundle(Object.assign({
    url: data.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (request) {
      // Same-origin writes from "Try it out" with a session carry the CSRF token, as drf-spectacular's do.
      if (!["GET", undefined].includes(request.method) && request.credentials === "same-origin") {
        request.headers[data.csrfHeader] = data.csrfToken;
      }
      return request;
    },
  }, JSON.parse(data.settings || "{}")));
})();
