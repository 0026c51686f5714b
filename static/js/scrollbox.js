// A box that scrolls sideways (a wide table or the trend chart on a phone) must be reachable from
// the keyboard, or its hidden columns cannot be brought into view without a mouse or a finger.
// While a box overflows it is a focusable region (arrow keys scroll it) named after its table's
// caption, its chart's title or its section's heading; when it fits again it is plain once more,
// so a desktop's keyboard users do not stop at every table.
(function () {
  "use strict";
  var BOXES = ".table-wrap, .chart-wrap, .matrix-wrap";

  function nameOf(box) {
    var named = box.querySelector("caption, svg > title");
    var section = box.closest("section[aria-labelledby]");
    var heading = section && document.getElementById(section.getAttribute("aria-labelledby"));
    var text = (named || heading || { textContent: "Table" }).textContent.trim();
    return text + " (scrolls sideways)";
  }

  function update(box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    var marked = box.hasAttribute("data-scrollbox");
    if (scrolls && !marked && !box.hasAttribute("tabindex")) {
      box.setAttribute("data-scrollbox", "");
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", nameOf(box));
    } else if (!scrolls && marked) {
      ["data-scrollbox", "tabindex", "role", "aria-label"].forEach(function (name) {
        box.removeAttribute(name);
      });
    }
  }

  if (!window.ResizeObserver) return;
  var observer = new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      update(entry.target);
    });
  });

  function watch(root) {
    if (!(root instanceof Element || root instanceof Document)) return;
    var boxes = Array.from(root.querySelectorAll(BOXES));
    if (root instanceof Element && root.matches(BOXES)) boxes.push(root);
    boxes.forEach(function (box) {
      observer.observe(box); // observing reports the box's size at once
    });
    // New content inside a box already watched (an htmx swap) can make it overflow.
    var around = root instanceof Element && root.parentElement && root.parentElement.closest(BOXES);
    if (around) update(around);
  }

  document.addEventListener("DOMContentLoaded", function () {
    watch(document);
  });
  document.addEventListener("htmx:load", function (event) {
    watch(event.target);
  });
})();
