// A lead's page: forms marked data-leads-api send their fields as JSON to the panel's lead
// endpoints (with the CSRF token) and reload the page on success, with "Gespeichert." in its
// status element; a refusal is shown in the form's alert, in the staff member's language (the
// answer's `display`, asked for with X-Panel-Page), and an earlier success notice is taken away.
// The words of the script come from the page (#lead-texts). No inline script (CSP: script-src 'self').
(function () {
  "use strict";
  function pageText(name, fallback) {
    var texts = document.getElementById("lead-texts");
    return (texts && texts.getAttribute("data-" + name)) || fallback;
  }
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
    alert.textContent = pageText("not-saved", "Nicht gespeichert:") + " " + message;
    alert.hidden = false;
    Array.prototype.forEach.call(document.querySelectorAll(".notice.ok[role=status]"), function (notice) {
      notice.hidden = true;
    });
  }
  function reloadSaved() {
    var url = new URL(window.location.href);
    url.searchParams.set("notice", "saved");
    window.history.replaceState(null, "", url.toString());
    window.location.reload();
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
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), "X-Panel-Page": "1" },
      body: JSON.stringify(bodyOf(form))
    }).then(function (response) {
      if (response.ok) { reloadSaved(); return null; }
      return response.json().then(function (error) { showError(form, error.display || error.error || response.statusText); });
    }).catch(function () {
      showError(form, pageText("unreachable", "Der Server ist nicht erreichbar."));
    }).then(function () {
      if (button) { button.disabled = false; }
    });
  });
})();
