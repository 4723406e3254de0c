// Live countdowns for token expiry (optional: the page works without it).
(function () {
  function fmt(s) {
    if (s <= 0) return "expired";
    var m = Math.floor(s / 60), r = s % 60;
    return "in " + (m > 0 ? m + "m " : "") + r + "s";
  }
  function tick() {
    var now = Math.floor(Date.now() / 1000);
    document.querySelectorAll("time.countdown").forEach(function (el) {
      el.textContent = fmt(parseInt(el.dataset.exp, 10) - now);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();

// A sign-out form that carries the ID token to the IdP goes on by itself
// (without JavaScript the user presses its button).
document.addEventListener("DOMContentLoaded", function () {
  var f = document.querySelector("form[data-autosubmit]");
  if (f) f.submit();
});
