"use strict";
// Runs in <head>: the page is marked as scripted before it is first laid out, so that finding
// details start folded without a second layout; the rest waits for the document.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("filters");
  var shown = document.getElementById("shown");
  var root = document.documentElement;
  var items = Array.prototype.map.call(document.querySelectorAll("#finding-list > .finding"), function (el) {
    var d = el.dataset;
    return { el: el, category: d.category, severity: d.severity, rule: d.rule, role: d.role, path: d.path.toLowerCase(), failing: d.failing === "1" };
  });
  var keys = ["category", "severity", "rule", "role", "path", "failing"];
  function wanted() {
    var w = {};
    keys.forEach(function (k) {
      var field = form.elements[k];
      w[k] = field.type === "checkbox" ? field.checked : field.value.trim();
    });
    return w;
  }
  function apply() {
    var w = wanted(), path = w.path.toLowerCase(), n = 0;
    for (var i = 0; i < items.length; i++) {
      var x = items[i];
      var keep = (!w.category || x.category === w.category) && (!w.severity || x.severity === w.severity) &&
        (!w.rule || x.rule === w.rule) && (!w.role || x.role === w.role) &&
        (!path || x.path.indexOf(path) !== -1) && (!w.failing || x.failing);
      if (x.el.hidden === keep) x.el.hidden = !keep;
      if (keep) n++;
    }
    shown.textContent = n;
    root.classList.toggle("open-all", form.elements.open.checked);
    var query = keys.filter(function (k) { return w[k]; }).map(function (k) {
      return k + "=" + encodeURIComponent(w[k] === true ? "1" : w[k]);
    }).join("&");
    history.replaceState(null, "", query ? "#findings?" + query : location.pathname + location.search);
  }
  function fromHash() {
    var at = location.hash.indexOf("?");
    if (location.hash.indexOf("#findings") !== 0 || at < 0) return;
    var params = new URLSearchParams(location.hash.slice(at + 1));
    keys.forEach(function (k) {
      var field = form.elements[k];
      if (!params.has(k)) return;
      if (field.type === "checkbox") field.checked = params.get(k) === "1"; else field.value = params.get(k);
    });
  }
  form.hidden = false;
  form.addEventListener("input", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  var list = document.getElementById("finding-list");
  list.addEventListener("click", function (e) {
    var head = e.target.closest(".head");
    if (head && !e.target.closest("a")) head.parentNode.classList.toggle("open");
  });
  list.addEventListener("keydown", function (e) {
    var head = e.target.closest(".head");
    if (head && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      head.parentNode.classList.toggle("open");
    }
  });
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-filter-rule]");
    if (!link) return;
    e.preventDefault();
    form.reset();
    form.elements.rule.value = link.dataset.filterRule;
    apply();
    document.getElementById("findings").scrollIntoView();
  });
  fromHash();
  if (location.hash.indexOf("#findings?") === 0) apply();
});
