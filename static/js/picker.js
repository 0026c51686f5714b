// Pickers (core.forms.PickerInput: people, departments): as the person types in an input with
// data-picker-url, ask that URL (with q=, what was typed) for matches and offer their labels
// in the input's <datalist>. The answer is {"results": [{"label": …}, …]}. Without this script
// the input still takes a name.
(function () {
  "use strict";
  var DELAY_MS = 200;

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var timer = null;
    var asked = null;
    var controller = null;

    // A list input (data-picker-separator, e.g. user groups "A; B"): suggest for the name
    // being typed after the last separator, offering the whole value with it completed.
    var separator = input.getAttribute("data-picker-separator");

    function head() {
      if (!separator) return "";
      var at = input.value.lastIndexOf(separator);
      return at < 0 ? "" : input.value.slice(0, at + 1) + " ";
    }

    function typed() {
      if (!separator) return input.value.trim();
      return input.value.slice(input.value.lastIndexOf(separator) + 1).trim();
    }

    function fill(results) {
      var before = head();
      list.replaceChildren();
      results.forEach(function (result) {
        var option = document.createElement("option");
        option.value = before + result.label;
        list.appendChild(option);
      });
    }

    function ask() {
      var text = typed();
      if (text === asked) return;
      asked = text;
      if (controller) controller.abort();
      controller = new AbortController();
      var url = new URL(input.getAttribute("data-picker-url"), window.location.href);
      url.searchParams.set("q", text);
      fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal,
      })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (data) {
          fill(data.results || []);
        })
        .catch(function () {});
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("focus", ask);
  }

  function attachAll(root) {
    root.querySelectorAll("input[data-picker-url]").forEach(function (input) {
      if (input.dataset.pickerAttached) return;
      input.dataset.pickerAttached = "1";
      attach(input);
    });
  }

  attachAll(document);
  // Forms that htmx swaps in (a project page section) get their pickers too.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    attachAll(event.target);
  });
})();
