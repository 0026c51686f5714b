// Fold every open branch of the strategy map. The map works without this script (nested
// <details>, each branch also a page of its own); the button stays hidden unless it runs.
// There is no "expand all": branches load when opened, and opening every one would load the
// whole portfolio.
(function () {
  "use strict";
  var map = document.getElementById("strategy-map");
  if (!map) return;
  // A branch opened before htmx was ready (a slow page load) never sent its request: once htmx
  // has set up the page, load every open branch still showing its loader.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    map.querySelectorAll("details[open] > .map-load").forEach(function (loader) {
      window.htmx.trigger(loader.parentElement, "toggle");
    });
  });
  document.querySelectorAll("[data-map-toggle]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      map.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
    });
  });
})();
