// The order page's countdown: the one script the pages need (everything else works without it).
// The server renders the seconds left by its own clock; we count down from that with the
// browser's monotonic clock, so a wrong clock on the buyer's device cannot skew it. At zero the
// page reloads once, and the server shows the order's real status.
(function () {
  "use strict";
  var box = document.querySelector("[data-countdown]");
  if (!box) {
    return;
  }
  var total = parseInt(box.getAttribute("data-seconds-left"), 10);
  var value = box.querySelector("[data-countdown-value]");
  var status = box.querySelector("[data-countdown-status]");
  if (!(total > 0) || !value) {
    return;
  }
  var started = performance.now();
  var timer = null;

  function tick() {
    var left = Math.max(0, Math.ceil(total - (performance.now() - started) / 1000));
    value.textContent = String(left);
    if (left > 0) {
      return;
    }
    window.clearInterval(timer);
    document.querySelectorAll(".pay-form button, .cancel-form button").forEach(function (button) {
      button.disabled = true;
    });
    if (status) {
      status.textContent = "Time is up. Checking the order's status\u2026";
    }
    window.setTimeout(function () {
      window.location.reload();
    }, 500);
  }

  timer = window.setInterval(tick, 250);
  tick();

  // Just paid, and the order not confirmed yet (a split settles payments a delivery later):
  // look again shortly, until the server shows it complete or the countdown ends the wait.
  if (document.querySelector("[data-confirming]")) {
    window.setTimeout(function () {
      window.location.reload();
    }, 1000);
  }
})();
