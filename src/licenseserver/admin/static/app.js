// Panel behaviour without inline script (CSP: script-src 'self').
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // htmx requests carry the CSRF token like every other unsafe request.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  // Forms and buttons marked data-confirm ask before they act.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);
  // Checkbox "select all" for bulk actions.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input[data-select-all]")) {
      document.querySelectorAll(box.getAttribute("data-select-all")).forEach(function (other) {
        other.checked = box.checked;
      });
    }
  });
  // Links styled as buttons answer the Space key like real buttons (Enter already follows them).
  document.addEventListener("keydown", function (event) {
    var link = event.target;
    if (event.key === " " && link.matches && link.matches('a[role="button"]')) {
      event.preventDefault();
      link.click();
    }
  });
  // Searchable customer select (Select2-style), fed by /api/customers.
  function enhanceSelects(root) {
    if (!window.TomSelect) { return; }
    root.querySelectorAll("select[data-customer-select]").forEach(function (select) {
      if (select.tomselect) { return; }
      var control = new window.TomSelect(select, {
        valueField: "id", labelField: "text", searchField: "text", maxOptions: 50, preload: "focus",
        load: function (query, callback) {
          fetch("/api/customers?q=" + encodeURIComponent(query), { credentials: "same-origin" })
            .then(function (response) { return response.json(); })
            .then(function (data) { callback(data.results); })
            .catch(function () { callback(); });
        }
      });
      // The typing field replaces the select: it takes over the select's accessible name.
      var label = select.id ? document.querySelector('label[for="' + select.id + '"]') : null;
      if (label && control.control_input) {
        control.control_input.setAttribute("aria-label", label.textContent.trim());
      }
    });
  }
  // Narrow screens: the header's menu folds behind the "Menü" button. The header only folds once
  // this script runs (data-menu), so without script the menu stays in full view.
  function setMenuOpen(header, button, open) {
    header.setAttribute("data-menu", open ? "open" : "closed");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  function setUpMenu() {
    var header = document.querySelector(".site-header");
    var button = header ? header.querySelector(".menu-toggle") : null;
    if (!button) { return; }
    button.hidden = false;
    setMenuOpen(header, button, false);
    button.addEventListener("click", function () {
      setMenuOpen(header, button, button.getAttribute("aria-expanded") !== "true");
    });
    // Escape closes the open menu and puts the focus back on its button.
    header.addEventListener("keydown", function (event) {
      if (!event.defaultPrevented && event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setMenuOpen(header, button, false);
        button.focus();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setUpMenu(); enhanceSelects(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhanceSelects(event.target); });
})();
