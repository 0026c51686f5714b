// Fold every open branch of the strategy map. The map works without this script (nested
// <details>, each branch also a page of its own); the button stays hidden unless it runs.
// There is no "expand all": branches load when opened, and opening every one would load the
// whole portfolio.
(function () {
  "use strict";
  var map = document.getElementById("strategy-map");
  if (!map) return;
  document.querySelectorAll("[data-map-toggle]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      map.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
    });
  });
})();
