// Live length counters: a text field with a maximum length (data-max-length, from
// core.forms.CountedBoundField) shows "12 / 200 characters" below it, updated as you type, and
// says how many characters too many. Nothing is cut: the server refuses longer input with a
// message naming the field and its limit. One listener for the whole document, so fields
// htmx swaps in later count too.
(function () {
  "use strict";

  function update(input) {
    var counter = document.getElementById(input.id + "_count");
    if (!counter) {
      return;
    }
    var limit = parseInt(input.getAttribute("data-max-length"), 10);
    // Characters as the server counts them (code points), not UTF-16 units.
    var length = Array.from(input.value).length;
    var over = length - limit;
    counter.textContent =
      length + " / " + limit + " characters" + (over > 0 ? " \u2014 " + over + " too many" : "");
    counter.classList.toggle("field__count--over", over > 0);
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.hasAttribute("data-max-length")) {
      update(target);
    }
  });
})();
