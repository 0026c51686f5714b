// The menu button of narrow screens: it folds the main navigation and the search away and
// opens them again. Without this script the button stays hidden and the navigation stays on
// the page (css/app.css hides it only behind a button that says "collapsed").
(function () {
  "use strict";
  var button = document.querySelector(".nav-toggle");
  if (!button) return;
  button.hidden = false;
  button.setAttribute("aria-expanded", "false");
  function set(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  button.addEventListener("click", function () {
    set(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      set(false);
      button.focus();
    }
  });
})();
