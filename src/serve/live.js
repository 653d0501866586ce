// ozg-site preview: reloads the page after a rebuild, swaps stylesheets without reloading, and
// shows build errors over the page. Injected by `ozg-site serve` only, never by `build`.
(function () {
  "use strict";
  var OVERLAY_ID = "ozg-site-error-overlay";
  var script = document.currentScript;
  var generation = script ? script.getAttribute("data-generation") : null;

  function showError(text) {
    var box = document.getElementById(OVERLAY_ID);
    if (!box) {
      box = document.createElement("div");
      box.id = OVERLAY_ID;
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;" +
        "background:rgba(20,20,20,.94);color:#fff;padding:2rem;font:16px/1.5 system-ui,sans-serif";
      var h = document.createElement("h2");
      h.textContent = "Die Seite konnte nicht erstellt werden";
      h.style.cssText = "margin:0 0 1rem;font-size:1.4rem;color:#ffdd00";
      var p = document.createElement("p");
      p.textContent = "Beheben Sie den Fehler und speichern Sie die Datei: die Vorschau aktualisiert sich dann von selbst.";
      var pre = document.createElement("pre");
      pre.style.cssText = "white-space:pre-wrap;font:15px/1.45 ui-monospace,monospace;margin:1rem 0 0";
      box.appendChild(h);
      box.appendChild(p);
      box.appendChild(pre);
      document.body.appendChild(box);
    }
    box.querySelector("pre").textContent = text;
  }

  function swapStylesheets(paths) {
    var links = document.querySelectorAll('link[rel="stylesheet"]');
    for (var i = 0; i < links.length; i++) {
      var url = new URL(links[i].href, location.href);
      if (paths.indexOf(url.pathname) !== -1) {
        url.searchParams.set("v", String(Date.now()));
        links[i].href = url.href;
      }
    }
  }

  fetch("/__ozg/status", { cache: "no-store" })
    .then(function (r) { return r.json(); })
    .then(function (s) { if (s.error) { showError(s.error); } })
    .catch(function () {});

  var source = new EventSource("/__ozg/events");
  // A rebuild that happened before this page connected: reload now instead of missing it.
  source.addEventListener("hello", function (e) {
    if (generation !== null && e.data !== generation) { location.reload(); return; }
    document.documentElement.setAttribute("data-ozg-live", "connected");
  });
  source.addEventListener("reload", function () { location.reload(); });
  source.addEventListener("css", function (e) { swapStylesheets(e.data.split("\n")); });
  source.addEventListener("builderror", function (e) { showError(e.data); });
})();
