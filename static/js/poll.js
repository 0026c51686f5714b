// Polling that pauses while the tab is hidden: an element with data-poll-seconds="N" gets a
// "poll" event every N seconds while the page is visible, and says hx-trigger="poll" to
// re-fetch. (htmx's own `every Ns [condition]` filter evaluates code, which the policy forbids.)
(function () {
  "use strict";
  document.querySelectorAll("[data-poll-seconds]").forEach(function (element) {
    var seconds = parseFloat(element.getAttribute("data-poll-seconds"));
    if (!(seconds > 0)) return;
    var timer = window.setInterval(function () {
      if (!element.isConnected) {
        window.clearInterval(timer);
        return;
      }
      if (document.visibilityState === "visible") {
        element.dispatchEvent(new CustomEvent("poll"));
      }
    }, seconds * 1000);
  });
})();
