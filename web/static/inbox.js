// Inbox pages: live tab counts, select-all for bulk claim, local times.
(function () {
  "use strict";

  function refreshCounts() {
    var tabs = document.querySelector("[data-counts-url]");
    if (!tabs) return;
    fetch(tabs.getAttribute("data-counts-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        Object.keys(counts).forEach(function (tab) {
          var badge = document.querySelector('[data-count="' + tab + '"]');
          if (badge) badge.textContent = counts[tab];
        });
      })
      .catch(function () { /* offline for a moment: try again on the next tick */ });
  }

  function selectAll() {
    var all = document.querySelector("[data-select-all]");
    if (!all) return;
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="task_id"]').forEach(function (box) { box.checked = all.checked; });
    });
  }

  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var pad = function (n) { return String(n).padStart(2, "0"); };
      el.textContent = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate()) +
        " " + pad(when.getHours()) + ":" + pad(when.getMinutes());
      el.title = el.getAttribute("datetime");
    });
  }

  window.TowerFlowInbox = { refreshCounts: refreshCounts };

  document.addEventListener("DOMContentLoaded", function () {
    selectAll();
    localTimes();
    if (document.querySelector("[data-counts-url]")) setInterval(refreshCounts, 15000);
  });
})();
