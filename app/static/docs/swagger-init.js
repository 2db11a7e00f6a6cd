// Swagger UI on /docs with FastAPI's settings, in a file: the page's CSP allows no inline script.
// The OpenAPI document's address comes from the page (it depends on where the app is mounted).
"use strict";

const root = document.getElementById("swagger-ui");

window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
  // No badge from the public validator: the page talks to this service only.
  validatorUrl: null,
});
