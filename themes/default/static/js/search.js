/*
 * Suche ohne Server: liest den beim Bauen erzeugten Suchindex (/suchindex.json) und sucht im
 * Browser. Wörter werden wie im Deutschen üblich verglichen: Groß/klein egal, ä = ae, ö = oe,
 * ü = ue, ß = ss, und einfache Endungen (-en, -e, -n, -s, -er, -es) zählen nicht, so findet
 * „Lotsen“ auch „Digital-Lotsen“ und „Sprechstunden“ auch „Sprechstunde“.
 * „Thema“ (wenn site.yaml Themen nennt) beschränkt die Treffer auf die Seiten eines Themas; ohne
 * Suchbegriff zeigt es alle Seiten des Themas. `?q=`, `?bereich=` und `?thema=` in der Adresse
 * füllen das Formular, so funktioniert die Suche auch als Link.
 * Ohne JavaScript bleibt der Hilfetext der Seite mit dem Link zur Seitenübersicht.
 */
(function () {
  'use strict';
  var form = document.querySelector('.search__form');
  if (!form || !window.fetch) return;
  var input = form.querySelector('input[name="q"]');
  var select = form.querySelector('select[name="bereich"]');
  // The topics' select is there when site.yaml declares topics; its options come with the page.
  var topicSelect = form.querySelector('select[name="thema"]');
  var status = document.querySelector('.search__status');
  var list = document.querySelector('.search__results');
  var docs = null;

  function fold(text) {
    return text.toLowerCase()
      .replace(/ä/g, 'ae').replace(/ö/g, 'oe').replace(/ü/g, 'ue').replace(/ß/g, 'ss')
      .normalize('NFD').replace(/[\u0300-\u036f]/g, '');
  }
  function stem(word) {
    if (word.length <= 4) return word;
    return word.replace(/(ern|en|er|es|e|n|s)$/, '');
  }
  function words(text) {
    return fold(text).split(/[^a-z0-9]+/).filter(Boolean).map(stem);
  }

  function prepare(list) {
    return list.map(function (d) {
      return { doc: d, title: words(d.title), text: words(d.text) };
    });
  }

  function matches(terms, bag) {
    var n = 0;
    for (var i = 0; i < bag.length; i++) {
      for (var j = 0; j < terms.length; j++) {
        if (bag[i].indexOf(terms[j]) === 0) { n++; break; }
      }
    }
    return n;
  }

  function topicTitle(slug) {
    if (!topicSelect) return slug;
    for (var i = 0; i < topicSelect.options.length; i++) {
      if (topicSelect.options[i].value === slug) return topicSelect.options[i].textContent;
    }
    return slug;
  }

  function inTopic(doc, topic) {
    return !topic || (doc.themen || []).indexOf(topic) >= 0;
  }

  /* With a topic and no words, every page of the topic is a hit, in the order of the index. */
  function search(query, area, topic) {
    var terms = words(query);
    if (!terms.length) {
      if (!topic) return [];
      return docs.filter(function (d) {
        return (!area || d.doc.type === area) && inTopic(d.doc, topic);
      }).map(function (d) { return d.doc; });
    }
    var hits = [];
    docs.forEach(function (d) {
      if (area && d.doc.type !== area) return;
      if (!inTopic(d.doc, topic)) return;
      var score = 0;
      for (var j = 0; j < terms.length; j++) {
        var one = [terms[j]];
        var inTitle = matches(one, d.title);
        var inText = matches(one, d.text);
        if (!inTitle && !inText) return;
        score += inTitle * 10 + inText;
      }
      hits.push({ d: d.doc, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    return hits.map(function (h) { return h.d; });
  }

  /* The first stretch of text around a hit, with the matching words marked. */
  function snippet(text, terms) {
    var tokens = text.split(/(\s+)/);
    var first = -1;
    for (var i = 0; i < tokens.length && first < 0; i++) {
      if (matches(terms, words(tokens[i]))) first = i;
    }
    var from = Math.max(0, first - 16), to = Math.min(tokens.length, Math.max(first, 0) + 30);
    var p = document.createElement('p');
    p.className = 'search__snippet';
    if (from > 0) p.appendChild(document.createTextNode('… '));
    for (var k = from; k < to; k++) {
      if (/\S/.test(tokens[k]) && matches(terms, words(tokens[k]))) {
        var mark = document.createElement('mark');
        mark.textContent = tokens[k];
        p.appendChild(mark);
      } else {
        p.appendChild(document.createTextNode(tokens[k]));
      }
    }
    if (to < tokens.length) p.appendChild(document.createTextNode(' …'));
    return p;
  }

  function show(query, area, topic) {
    list.textContent = '';
    var query_ = query.trim();
    if (!query_ && !topic) {
      status.textContent = '';
      list.hidden = true;
      return;
    }
    var results = search(query_, area, topic);
    var terms = words(query_);
    results.slice(0, 50).forEach(function (d) {
      var li = document.createElement('li');
      li.className = 'search__result';
      var h = document.createElement('h2');
      var a = document.createElement('a');
      a.href = d.url;
      a.textContent = d.title;
      h.appendChild(a);
      li.appendChild(h);
      var meta = document.createElement('p');
      meta.className = 'search__meta';
      meta.textContent = d.type + (d.date ? ' · ' + d.date : '');
      li.appendChild(meta);
      li.appendChild(snippet(d.text, terms));
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
    var where = (area ? ' im Bereich „' + area + '“' : '') +
      (topic ? ' im Thema „' + topicTitle(topic) + '“' : '');
    var what = query_ ? ' für „' + query_ + '“' : '';
    status.textContent = results.length === 0
      ? 'Keine Treffer' + what + where + '.'
      : results.length + ' Treffer' + what + where +
        (results.length > 50 ? '; die ersten 50 sind aufgeführt.' : '.');
  }

  function run() {
    var params = new URLSearchParams(window.location.search);
    input.value = params.get('q') || '';
    if (params.get('bereich')) select.value = params.get('bereich');
    if (topicSelect && params.get('thema')) topicSelect.value = params.get('thema');
    show(input.value, select.value, topic());
  }

  /* The chosen topic's slug; a `?thema=` naming no declared topic leaves the select at "all". */
  function topic() {
    return topicSelect ? topicSelect.value : '';
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!docs) return;
    var params = new URLSearchParams();
    if (input.value.trim()) params.set('q', input.value.trim());
    if (select.value) params.set('bereich', select.value);
    if (topic()) params.set('thema', topic());
    var qs = params.toString();
    window.history.replaceState(null, '', window.location.pathname + (qs ? '?' + qs : ''));
    show(input.value, select.value, topic());
  });

  fetch(form.getAttribute('data-index'))
    .then(function (r) { return r.json(); })
    .then(function (index) {
      docs = prepare(index);
      var types = [];
      index.forEach(function (d) { if (types.indexOf(d.type) < 0) types.push(d.type); });
      types.sort(function (a, b) { return a.localeCompare(b, 'de'); }).forEach(function (t) {
        var o = document.createElement('option');
        o.value = t;
        o.textContent = t;
        select.appendChild(o);
      });
      document.documentElement.classList.add('search-ready');
      run();
    })
    .catch(function () {
      status.textContent = 'Der Suchindex konnte nicht geladen werden. Bitte nutzen Sie die Seitenübersicht.';
    });
})();
