// Small helpers of the web pages (no libraries): ask before irreversible forms,
// and move keyboard focus to an error or status message after a page load.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var message = document.querySelector("[role=alert]");
    if (message) {
      message.setAttribute("tabindex", "-1");
      message.focus();
    }
  });
})();
