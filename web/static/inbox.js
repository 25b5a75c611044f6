// Inbox pages: live tab counts with a "new tasks" notice, keyboard shortcuts, select-all for
// bulk claim, local times; on the task page, file previews and a progress bar while sending.
(function () {
  "use strict";

  var shown = null;  // the counts the page was drawn with

  function badges() {
    var found = {};
    document.querySelectorAll("[data-count]").forEach(function (el) {
      found[el.getAttribute("data-count")] = parseInt(el.getAttribute("data-n") || el.textContent, 10) || 0;
    });
    return found;
  }

  function refreshCounts() {
    var tabs = document.querySelector("[data-counts-url]");
    if (!tabs) return Promise.resolve();
    if (shown === null) shown = badges();
    return fetch(tabs.getAttribute("data-counts-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        Object.keys(counts).forEach(function (tab) {
          var badge = document.querySelector('[data-count="' + tab + '"]');
          var cap = parseInt(tabs.getAttribute("data-cap"), 10);  // past it the page says "1,000+"
          if (!badge) return;
          badge.textContent = counts[tab] > cap ? tabs.getAttribute("data-capped-text") : counts[tab];
          badge.setAttribute("data-n", counts[tab]);
        });
        var tab = tabs.getAttribute("data-tab");
        var notice = document.querySelector("[data-testid=new-tasks]");
        if (notice && counts[tab] > (shown[tab] || 0)) notice.hidden = false;
      })
      .catch(function () { /* offline for a moment: try again on the next tick */ });
  }

  function selectAll() {
    var all = document.querySelector("[data-select-all]");
    if (!all) return;
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="task_id"]:not([disabled])').forEach(function (box) { box.checked = all.checked; });
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

  // --- keyboard: the first task row has the focus, so Tab reaches its claim button at once ---

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-task-id]")); }

  function currentRow() {
    var el = document.activeElement;
    return el && el.closest ? el.closest("tr[data-task-id]") : null;
  }

  function focusRow(row) {
    if (!row) return;
    rows().forEach(function (r) { r.classList.remove("current"); });
    row.classList.add("current");
    row.focus();
  }

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName));
  }

  function shortcuts() {
    var list = rows();
    if (!list.length && !document.querySelector("[data-search]")) return;
    if (list.length && (!document.activeElement || document.activeElement === document.body) && !location.hash) {
      focusRow(list[0]);
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      var all = rows(), row = currentRow(), at = row ? all.indexOf(row) : -1;
      if (event.key === "j" || event.key === "k") {
        event.preventDefault();
        focusRow(all[Math.max(0, Math.min(all.length - 1, at + (event.key === "j" ? 1 : -1)))]);
      } else if (event.key === "/") {
        var search = document.querySelector("[data-search]");
        if (!search) return;
        event.preventDefault();
        var box = search.closest("details");
        if (box) box.open = true;
        search.focus();
      } else if (event.key === "Enter" && row && event.target === row) {
        location.href = row.getAttribute("data-href");
      } else if (event.key === "c" && row) {
        var claim = row.querySelector("button[data-testid^=claim-]");
        if (claim) { event.preventDefault(); claim.click(); }
      }
    });
  }

  // --- files: preview, size check before sending, progress while the form posts -----------

  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function previews() {
    document.querySelectorAll("input[type=file]").forEach(function (input) {
      var list = document.querySelector('[data-preview-for="' + input.id + '"]');
      if (!list) return;
      var form = input.form;
      var url = form && form.getAttribute("data-upload-url");
      input.addEventListener("change", function () {
        list.textContent = "";
        var max = parseInt(input.getAttribute("data-max-size"), 10) || 0;
        Array.prototype.forEach.call(input.files, function (file) {
          var item = document.createElement("li");
          if (/^image\//.test(file.type)) {
            var img = document.createElement("img");
            img.alt = "";
            img.src = URL.createObjectURL(file);
            item.appendChild(img);
          }
          var name = document.createElement("span");
          name.textContent = file.name + " (" + sizeText(file.size) + ")";
          item.appendChild(name);
          if (max && file.size > max) {
            var warn = document.createElement("span");
            warn.className = "field-error";
            warn.textContent = input.getAttribute("data-too-big");
            item.appendChild(warn);
          }
          list.appendChild(item);
          if (url && window.FormData && window.XMLHttpRequest) send(form, url, input, file, item);
        });
        if (url && window.FormData && window.XMLHttpRequest) input.value = "";  // each file travels on its own
      });
    });
  }

  var sending = 0;

  function busy(form, delta) {
    sending += delta;
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = sending > 0; });
  }

  // One file to the task's upload endpoint, with its own progress bar; once stored it is
  // attached to the form (a checked box holding its id), a refusal says why under its preview.
  function send(form, url, input, file, item) {
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    item.appendChild(bar);
    var data = new FormData();
    data.append("csrf_token", (form.querySelector("input[name=csrf_token]") || {}).value || "");
    data.append("field", input.name);
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    });
    busy(form, 1);
    xhr.addEventListener("loadend", function () {
      busy(form, -1);
      bar.remove();
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (xhr.status === 201 && answer) {
        attach(form, input.name, answer);
        item.classList.add("attached");
        item.setAttribute("data-file-id", answer.id);
      } else {
        var why = document.createElement("span");
        why.className = "field-error";
        why.setAttribute("role", "alert");
        why.textContent = (answer && answer.error) || form.getAttribute("data-upload-failed") || "";
        item.appendChild(why);
        item.classList.add("refused");
      }
    });
    xhr.send(data);
  }

  function attach(form, field, answer) {
    var kept = form.querySelector('[data-kept-for="' + field + '"]');
    if (!kept) return;
    if (kept.getAttribute("data-multiple") !== "true") {
      kept.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; });
    }
    var label = document.createElement("label");
    label.className = "option kept-file";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = field;
    box.value = answer.id;
    box.checked = true;
    var link = document.createElement("a");
    link.href = answer.url;
    link.target = "_blank";
    link.textContent = answer.filename;
    var size = document.createElement("span");
    size.className = "muted";
    size.textContent = "(" + answer.size_text + ")";
    label.appendChild(box);
    label.appendChild(document.createTextNode(" "));
    label.appendChild(link);
    label.appendChild(document.createTextNode(" "));
    label.appendChild(size);
    kept.appendChild(label);
  }

  // With files chosen, a bar shows that the form and its files are on their way (the browser
  // posts the form itself, so a refused form comes back as the server drew it).
  function uploads() {
    var form = document.querySelector("form[data-uploads]");
    if (!form) return;
    form.addEventListener("submit", function () {
      var chosen = Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (i) { return i.files.length; });
      var box = form.querySelector("[data-testid=upload-progress]");
      if (chosen && box) box.hidden = false;
    });
  }

  window.TowerFlowInbox = { refreshCounts: refreshCounts };

  function start() {
    selectAll();
    localTimes();
    shortcuts();
    previews();
    uploads();
    if (document.querySelector("[data-counts-url]")) {
      shown = badges();
      setInterval(refreshCounts, 15000);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
