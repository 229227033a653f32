// Signaturschlüssel: the copy button of the JWK Set (no inline script: CSP script-src 'self').
// Its two messages come from the button (data-copied, data-copy-failed), in the page's language.
(function () {
  "use strict";
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  // The Clipboard API exists only in secure contexts (HTTPS or localhost); elsewhere the old
  // copy command on a selection still works in every browser the panel supports.
  function copyText(element) {
    var text = element.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    selectText(element);
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy-target]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    var status = document.querySelector(button.getAttribute("data-copy-status"));
    if (!source) { return; }
    copyText(source).then(function () {
      if (status) { status.textContent = button.getAttribute("data-copied") || "JWK Set in die Zwischenablage kopiert."; }
    }, function () {
      selectText(source);  // at least leave it selected for Strg+C
      if (status) {
        status.textContent = button.getAttribute("data-copy-failed") || "Kopieren nicht möglich – der Text ist markiert, bitte Strg+C drücken.";
      }
    });
  });
})();
