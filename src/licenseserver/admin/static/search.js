// The header's search box as a combobox (CSP: script-src 'self', so no inline script): while
// staff type, a grouped list of hits from /search/live; ArrowDown/ArrowUp move through them,
// Enter opens the highlighted one (or, with none highlighted, submits the form to /search),
// Escape closes the list. The live region announces how many hits there are.
(function () {
  "use strict";
  var DELAY_MS = 150;

  function setUp(form) {
    var input = form.querySelector('input[name="q"]');
    if (!input) { return; }
    var list = document.createElement("div");
    list.id = "global-search-list";
    list.className = "gs-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", input.getAttribute("aria-label") || "");
    list.hidden = true;
    var status = document.createElement("div");
    status.className = "gs-status";
    // A live region without role="status": that role belongs to the page's one action message.
    status.setAttribute("aria-live", "polite");
    status.setAttribute("aria-atomic", "true");
    form.appendChild(list);
    form.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("autocomplete", "off");

    var timer = null;
    var sequence = 0; // answers to older texts are dropped
    var active = -1;

    function options() {
      return Array.prototype.slice.call(list.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));
    }
    function open() {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      highlight(-1);
    }
    function highlight(index) { // -1: none
      var all = options();
      active = index >= 0 && index < all.length ? index : -1;
      all.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", all[active].id);
        all[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function go(option) {
      var href = option && option.getAttribute("data-href");
      if (href) { window.location.assign(href); }
    }
    function load() {
      var text = input.value.trim();
      var mine = ++sequence;
      if (!text) {
        list.innerHTML = "";
        status.textContent = "";
        close();
        return;
      }
      var url = form.getAttribute("data-live-search") + "?q=" + encodeURIComponent(text);
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error("no list"); }
          return response.text();
        })
        .then(function (html) {
          if (mine !== sequence) { return; }
          list.innerHTML = html; // the panel's own template, escaped by Jinja
          var summary = list.querySelector("[data-summary]");
          status.textContent = summary ? summary.getAttribute("data-summary") : "";
          highlight(-1);
          if (document.activeElement === input) { open(); }
        })
        .catch(function () { if (mine === sequence) { close(); } });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(load, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      var count = options().length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!count) { return; }
        event.preventDefault();
        if (list.hidden) { open(); }
        var step = event.key === "ArrowDown" ? 1 : -1;
        var next = active === -1 ? (step === 1 ? 0 : count - 1) : (active + step + count) % count;
        highlight(next);
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          go(options()[active]);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      }
    });
    // mousedown, not click: the input keeps its focus, so the list does not close first.
    list.addEventListener("mousedown", function (event) {
      var option = event.target.closest('[role="option"]');
      if (option && option.getAttribute("aria-disabled") !== "true") {
        event.preventDefault();
        go(option);
      }
    });
    input.addEventListener("blur", function () { close(); });
    input.addEventListener("focus", function () {
      if (input.value.trim() && options().length) { open(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-search]").forEach(setUp);
  });
})();
