// License pages (no inline script: CSP script-src 'self').
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var elt = detail.elt;
    // "Neu generieren": POST /api/generate-license-key answers JSON; put its key into the field.
    var keyTarget = elt.getAttribute && elt.getAttribute("data-key-target");
    if (keyTarget) {
      detail.shouldSwap = false;
      var input = document.querySelector(keyTarget);
      if (input && detail.xhr.status === 200) {
        try { input.value = JSON.parse(detail.xhr.responseText).license_key; } catch (e) { /* keep the key */ }
      }
      return;
    }
    // A refused inline edit answers 400/409 with the form and its message: show it.
    var status = detail.xhr.status;
    if ((status === 400 || status === 409) && elt.closest && elt.closest("[data-swap-errors]")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
  // Escape in a row's quick edit does what its "Abbrechen" button does: the row comes back
  // unchanged, and the focus returns to the row's "Schnell bearbeiten" for the next key.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented || !event.target.closest) { return; }
    var row = event.target.closest("tr.quick-edit-row");
    var cancel = row && row.querySelector("form.quick-edit button[type=button][hx-get]");
    if (!cancel) { return; }
    event.preventDefault();
    var rowId = row.id;
    document.addEventListener("htmx:afterSettle", function refocus() {
      var restored = document.getElementById(rowId);
      var again = restored && restored.querySelector('[hx-get$="/quick-edit"]');
      if (again) { again.focus(); }
    }, { once: true });
    cancel.click();
  });
  // The bulk buttons wait for a ticked box (without script they stay usable: the server then
  // answers "Keine Lizenz ausgewählt." on the list).
  function updateBulkButtons() {
    var ticked = document.querySelector('input[name="license_ids"]:checked') !== null;
    document.querySelectorAll("#bulk-form [data-needs-selection]").forEach(function (button) {
      button.disabled = !ticked;
    });
  }
  document.addEventListener("DOMContentLoaded", updateBulkButtons);
  // After app.js's "select all" has ticked the rows (the listener order is the scripts' order).
  document.addEventListener("change", function () { window.setTimeout(updateBulkButtons, 0); });
  document.addEventListener("htmx:afterSettle", function (event) {
    updateBulkButtons();
    // An opened quick edit takes the focus once, here, after the swap has settled. (Not with
    // `autofocus`: the browser and htmx would each focus it at their own moment, and the later
    // one could pull the focus away from a field the operator has already moved to.)
    var first = event.target.querySelector && event.target.querySelector("tr.quick-edit-row [data-first-field]");
    if (first) {
      first.removeAttribute("data-first-field");
      first.focus();
    }
    // A quick edit's save: the row shows "Gespeichert."; the page's one status message says it
    // aloud (role="status" is a polite live region). Taken once, so no later swap repeats it.
    var saved = document.querySelector("[data-saved-message]");
    var status = document.getElementById("action-message");
    if (saved && status) {
      saved.removeAttribute("data-saved-message");
      var notice = document.createElement("p");
      notice.className = "notice ok";
      notice.textContent = saved.getAttribute("data-message");
      status.replaceChildren(notice);
    }
  });
})();
