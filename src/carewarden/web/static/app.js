// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // htmx requests carry the session's CSRF token (read from a meta tag: no inline script).
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });
  function bind(root) {
    // "select all" checkbox of the alert queue
    root.querySelectorAll("input[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        document.querySelectorAll("input[name=alert_ids]").forEach(function (item) {
          item.checked = box.checked;
        });
      });
    });
    // closing asks for a disposition before the form is sent
    root.querySelectorAll("form[data-triage]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var submitter = event.submitter;
        var disposition = form.querySelector("select[name=disposition]");
        if (submitter && submitter.value === "close" && disposition && !disposition.value) {
          event.preventDefault();
          disposition.focus();
          disposition.setCustomValidity("Choose a disposition to close");
          disposition.reportValidity();
        } else if (disposition) { disposition.setCustomValidity(""); }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:afterSwap", function (event) { bind(event.target); });
})();
