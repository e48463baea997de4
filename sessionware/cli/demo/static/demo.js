// Live countdowns: every <time data-deadline="UNIX"> shows the time left, updated each second.
(function () {
  function format(left) {
    left = Math.max(0, Math.floor(left));
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
    var m = Math.floor(left % 3600 / 60), s = left % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (d) return d + " d " + h + " h";
    if (h) return h + ":" + two(m) + ":" + two(s);
    return m + ":" + two(s);
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[data-deadline]").forEach(function (el) {
      var left = parseFloat(el.dataset.deadline) - now;
      el.textContent = left > 0 ? format(left) : "ended";
      el.classList.toggle("soon", left > 0 && left < 300);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
