/*
 * Adventskalender: geöffnete Türchen im Dialog zeigen (fortschreitende Verbesserung).
 *
 * Ohne JavaScript – oder in Browsern ohne <dialog> – ist jedes geöffnete Türchen ein
 * gewöhnlicher Link auf seine Seite. Mit JavaScript öffnet ein Klick den nativen Dialog
 * mit dem Inhalt aus dem <template> neben dem Link:
 *
 *   <a data-advent-door="3" data-advent-template="tuerchen-3-inhalt" href="…">…</a>
 *   <template id="tuerchen-3-inhalt">…<h2 data-advent-dialog-title>…</h2>…</template>
 *   <dialog data-advent-dialog>… <button data-advent-close>Schließen</button>
 *     <div data-advent-dialog-body></div></dialog>
 *
 * Der Fokus wandert in den Dialog, Escape und „Schließen“ schließen ihn, danach steht der
 * Fokus wieder auf dem Türchen, das ihn geöffnet hat.
 */
(function () {
  "use strict";

  var dialog = document.querySelector("[data-advent-dialog]");
  if (!dialog || typeof dialog.showModal !== "function" || !("content" in document.createElement("template"))) {
    return;
  }

  var body = dialog.querySelector("[data-advent-dialog-body]");
  var closeButton = dialog.querySelector("[data-advent-close]");
  var TITLE_ID = "advent-dialog-title";
  var opener = null;

  function templateFor(link) {
    var id = link.getAttribute("data-advent-template");
    var template = id ? document.getElementById(id) : null;
    return template && template.tagName === "TEMPLATE" ? template : null;
  }

  function open(link, template) {
    body.replaceChildren(template.content.cloneNode(true));

    var title = body.querySelector("[data-advent-dialog-title]") || body.querySelector("h1, h2, h3");
    if (title) {
      title.id = TITLE_ID;
      dialog.removeAttribute("aria-label");
      dialog.setAttribute("aria-labelledby", TITLE_ID);
    } else {
      dialog.removeAttribute("aria-labelledby");
      dialog.setAttribute("aria-label", "Türchen " + link.getAttribute("data-advent-door"));
    }

    opener = link;
    dialog.showModal();
    dialog.scrollTop = 0;
    if (closeButton) {
      closeButton.focus();
    }
  }

  document.addEventListener("click", function (event) {
    // Neue Tabs, Fenster und Mittelklick bleiben gewöhnliche Links.
    if (event.defaultPrevented || event.button !== 0 ||
        event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    var link = event.target.closest ? event.target.closest("a[data-advent-door]") : null;
    if (!link) {
      return;
    }
    var template = templateFor(link);
    if (!template) {
      return; // kein eingebetteter Inhalt: dem Link folgen
    }
    event.preventDefault();
    open(link, template);
  });

  if (closeButton) {
    closeButton.addEventListener("click", function () {
      dialog.close();
    });
  }

  // Klick auf den abgedunkelten Hintergrund schließt ebenfalls.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) {
      dialog.close();
    }
  });

  // Escape löst „cancel“ und danach „close“ aus; jedes Schließen endet hier.
  dialog.addEventListener("close", function () {
    body.replaceChildren();
    if (opener && document.contains(opener)) {
      opener.focus();
    }
    opener = null;
  });

  // Vorlesesoftware ankündigen, dass die Türchen einen Dialog öffnen.
  var links = document.querySelectorAll("a[data-advent-door]");
  for (var i = 0; i < links.length; i++) {
    if (templateFor(links[i])) {
      links[i].setAttribute("aria-haspopup", "dialog");
    }
  }
})();
