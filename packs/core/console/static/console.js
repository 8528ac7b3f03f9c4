// The Packflow console's live part: an execution's page listens to its event stream and, on each event,
// fetches its changing part again (htmx swaps it in); the stream ends when the execution ends. What a person
// has typed into a form of that part (a decision's fields and comment, a signal) survives the swap: it is put
// back into the same field of the same form when the new part still has it, and the focus goes back too.
(function () {
  "use strict";

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) { return option.selected !== option.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  function keyOf(field) {
    var value = field.type === "checkbox" || field.type === "radio" ? "|" + field.value : "";
    return field.form.getAttribute("action") + "|" + field.name + value;
  }

  function typed(live) {
    var kept = { fields: {}, focused: null };
    live.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (field) {
      if (!field.form || field.type === "hidden") { return; }
      var key = keyOf(field);
      if (changed(field)) { kept.fields[key] = { value: field.value, checked: field.checked }; }
      if (field === document.activeElement) {
        kept.focused = { key: key, start: field.selectionStart, end: field.selectionEnd };
      }
    });
    return kept;
  }

  function putBack(live, kept) {
    live.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (field) {
      if (!field.form || field.type === "hidden") { return; }
      var key = keyOf(field);
      var saved = kept.fields[key];
      if (saved) {
        if (field.type === "checkbox" || field.type === "radio") { field.checked = saved.checked; } else { field.value = saved.value; }
      }
      if (kept.focused && kept.focused.key === key) {
        field.focus();
        if (kept.focused.start !== null && typeof field.setSelectionRange === "function") {
          try { field.setSelectionRange(kept.focused.start, kept.focused.end); } catch (ignored) { /* not a text field */ }
        }
      }
    });
  }
  var TYPES = ["workflow.started", "workflow.resumed", "workflow.completed", "workflow.halted", "workflow.failed",
    "workflow.cancelled", "step.started", "step.completed", "step.failed", "step.halted"];
  var FINAL = { "workflow.completed": true, "workflow.failed": true, "workflow.cancelled": true };

  function watch(live) {
    var source = new EventSource(live.getAttribute("data-events"));
    var kept = null;
    // Read what was typed the moment before the swap (not when the request left: typing goes on meanwhile).
    live.addEventListener("htmx:beforeSwap", function (event) { if (event.target === live) { kept = typed(live); } });
    live.addEventListener("htmx:afterSwap", function (event) {
      if (event.target === live && kept) { putBack(live, kept); kept = null; }
    });
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
