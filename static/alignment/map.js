// The strategy map's branches. The map works without this script: branches are nested <details>,
// and each loader or "more" item is a link to a page of its own. With it, opening a branch loads
// its children in place, and a "more" link appends the next page.
//
// The listeners sit on the document, not on each loader, so a branch that arrived a moment ago
// works at once: htmx only wires up new content when it settles, and a branch opened in between
// would never send its request.
(function () {
  "use strict";

  function fetchInto(element, url) {
    if (!window.htmx || element.hasAttribute("data-loading")) return false;
    element.setAttribute("data-loading", "");
    window.htmx
      .ajax("GET", url, { source: element, target: element, swap: "outerHTML" })
      .then(function () {
        // Still here: the request failed. Let the next attempt try again.
        if (element.isConnected) element.removeAttribute("data-loading");
      });
    return true;
  }

  function loadBranch(details) {
    if (!details.open) return;
    var loader = details.querySelector(":scope > .map-load[data-branch-url]");
    if (loader) fetchInto(loader, loader.getAttribute("data-branch-url"));
  }

  // "toggle" does not bubble, but a capturing listener on the document sees every one.
  document.addEventListener(
    "toggle",
    function (event) {
      if (event.target instanceof HTMLDetailsElement) loadBranch(event.target);
    },
    true
  );

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey) return;
    if (event.shiftKey || event.altKey) return;
    var link = event.target instanceof Element && event.target.closest(".map-more a[href]");
    if (!link) return;
    if (fetchInto(link.closest("li"), link.getAttribute("href"))) event.preventDefault();
  });

  // Branches already open when the page arrived (the back button restores them).
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("details[open]").forEach(loadBranch);
  });

  // Fold every open branch. There is no "expand all": branches load when opened, and opening
  // every one would load the whole portfolio. The button stays hidden unless this script runs.
  var map = document.getElementById("strategy-map");
  if (!map) return;
  document.querySelectorAll("[data-map-toggle]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      map.querySelectorAll("details[open]").forEach(function (d) {
        d.open = false;
      });
    });
  });
})();
