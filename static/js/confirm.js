// Asks before a consequential submit: a form (or its submit button) with
// data-confirm="question" is sent only if the person agrees. The page's policy allows no
// inline handlers, so this one listener replaces onclick="return confirm(...)".
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question =
      (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);  // capture: decide before htmx or anything else acts on the submit
})();
