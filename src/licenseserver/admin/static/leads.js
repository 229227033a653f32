// A lead's page: forms marked data-leads-api send their fields as JSON to the panel's lead
// endpoints (with the CSRF token) and reload the page on success; a refusal is shown in the
// form's alert. No inline script (CSP: script-src 'self').
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function bodyOf(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.name === "csrf_token") { return; }
      body[field.name] = field.getAttribute("data-json") === "int" ? Number(field.value) : field.value;
    });
    return body;
  }
  function showError(form, message) {
    var alert = form.querySelector("[role=alert]");
    if (!alert) { return; }
    alert.textContent = "Nicht gespeichert: " + message;
    alert.hidden = false;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var url = form.getAttribute("data-leads-api");
    if (!url) { return; }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    fetch(url, {
      method: form.getAttribute("data-method") || "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(bodyOf(form))
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return null; }
      return response.json().then(function (error) { showError(form, error.error || response.statusText); });
    }).catch(function () {
      showError(form, "Der Server ist nicht erreichbar.");
    }).then(function () {
      if (button) { button.disabled = false; }
    });
  });
})();
