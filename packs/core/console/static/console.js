// The Packflow console's live part: an execution's page listens to its event stream and, on each event,
// fetches its changing part again (htmx swaps it in); the stream ends when the execution ends.
(function () {
  "use strict";
  var TYPES = ["workflow.started", "workflow.resumed", "workflow.completed", "workflow.halted", "workflow.failed",
    "workflow.cancelled", "step.started", "step.completed", "step.failed", "step.halted"];
  var FINAL = { "workflow.completed": true, "workflow.failed": true, "workflow.cancelled": true };

  function watch(live) {
    var source = new EventSource(live.getAttribute("data-events"));
    var pending = null;
    function refresh() {
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        htmx.ajax("GET", live.getAttribute("data-refresh"), { target: live, swap: "innerHTML" });
      }, 150);
    }
    TYPES.forEach(function (type) {
      source.addEventListener(type, function () {
        refresh();
        if (FINAL[type]) { source.close(); }
      });
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { refresh(); }
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-live]");
    if (live && window.EventSource && window.htmx) { watch(live); }
  });
})();
