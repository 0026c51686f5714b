// Expand / collapse every branch of the strategy map. The map works without this script
// (nested <details>); the buttons stay hidden unless it runs.
(function () {
  "use strict";
  var map = document.getElementById("strategy-map");
  if (!map) return;
  document.querySelectorAll("[data-map-toggle]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = button.getAttribute("data-map-toggle") === "open";
      map.querySelectorAll("details").forEach(function (d) { d.open = open; });
    });
  });
})();
