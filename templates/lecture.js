(function () {
  "use strict";
  var root = document.documentElement;
  var slides = Array.prototype.slice.call(document.querySelectorAll("section.slide"));
  var counter = document.getElementById("counter");
  var bar = document.getElementById("bar");
  if (!slides.length) { return; }
  root.classList.add("js");
  var initial = {};
  var texts = document.querySelectorAll("#net text[id], #net tspan[id]");
  for (var k = 0; k < texts.length; k++) { initial[texts[k].id] = texts[k].textContent; }
  var plans = slides.map(function (s) {
    return { focus: (s.getAttribute("data-focus") || "").split(" ").filter(Boolean),
             sets: JSON.parse(s.getAttribute("data-sets") || "{}") };
  });
  var current = -1;

  function show(n) {
    n = Math.max(0, Math.min(slides.length - 1, n));
    var shown = {};
    for (var id in initial) { shown[id] = initial[id]; }
    for (var i = 0; i <= n; i++) {
      for (var key in plans[i].sets) { shown[key] = plans[i].sets[key]; }
    }
    for (var t in shown) {
      var el = document.getElementById(t);
      if (el && el.textContent !== shown[t]) { el.textContent = shown[t]; }
    }
    var lit = document.querySelectorAll("#net .on");
    for (var a = 0; a < lit.length; a++) { lit[a].classList.remove("on"); }
    plans[n].focus.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.classList.add("on"); }
    });
    slides.forEach(function (s, j) { s.hidden = j !== n; });
    counter.textContent = (n + 1) + " / " + slides.length;
    bar.style.width = (100 * (n + 1) / slides.length) + "%";
    current = n;
    var hash = "#step-" + (n + 1);
    if (location.hash !== hash) { history.replaceState(null, "", hash); }
  }

  function fromHash() {
    var m = /^#step-(\d+)$/.exec(location.hash);
    return m ? parseInt(m[1], 10) - 1 : 0;
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    var to = null;
    if (e.key === "ArrowRight" || e.key === " " || e.key === "PageDown") { to = current + 1; }
    else if (e.key === "ArrowLeft" || e.key === "PageUp") { to = current - 1; }
    else if (e.key === "Home") { to = 0; }
    else if (e.key === "End") { to = slides.length - 1; }
    if (to !== null) { e.preventDefault(); show(to); }
  });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
  document.getElementById("net").addEventListener("click", function () { show(current + 1); });
  window.addEventListener("hashchange", function () { show(fromHash()); });
  show(fromHash());
})();
