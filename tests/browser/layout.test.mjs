// Reflow (WCAG 1.4.10) and layout stability (issue 18): no page scrolls sideways at 320 CSS px —
// every page type of the build, the advent calendar with a door dialog open, the search with
// results, the menu open — nor at 200 % and 400 % zoom of a 1280 × 1024 screen; and the search page
// does not shift while its results arrive (cumulative layout shift below 0.05).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildSite, serve, launch, newPage } from './support.mjs';
import { builtPages, discoverPageTypes, pageType } from './pages.mjs';

// The advent season (doors 1–5 open, an event announced) and "today" in late 2026 (the news list
// has a second page).
const BUILDS = { advent: buildSite('2025-12-05T13:00:00+01:00'), heute: buildSite('2026-11-23T10:00:00+01:00') };
const TYPES = discoverPageTypes(BUILDS);

// 320 CSS px is the reflow width of WCAG 1.4.10; 200 % and 400 % zoom of a 1280 × 1024 screen are the
// same CSS widths with denser pixels, the way a user's browser zoom gets there.
const VIEWS = [
  { name: '320px', viewport: { width: 320, height: 640 }, deviceScaleFactor: 1 },
  { name: '200% zoom', viewport: { width: 640, height: 512 }, deviceScaleFactor: 2 },
  { name: '400% zoom', viewport: { width: 320, height: 256 }, deviceScaleFactor: 4 },
];

let browser;
const sites = {};
const pages = {};
before(async () => {
  browser = await launch();
  for (const [name, dir] of Object.entries(BUILDS)) sites[name] = await serve(dir);
  // One page per view, reused across tests: a new context per URL would triple the run time.
  for (const view of VIEWS) {
    pages[view.name] = await newPage(browser, view.viewport.width, { viewport: view.viewport, deviceScaleFactor: view.deviceScaleFactor });
  }
});
after(async () => {
  await browser?.close();
  for (const s of Object.values(sites)) await s.close();
});

/**
 * Measures sideways overflow in the page: whether the document scrolls sideways, and the elements
 * and text runs whose right edge lies past the viewport (widest first), with a selector for each.
 * `scope` (a selector) limits the offenders to a part of the page, e.g. an open dialog, which lives
 * in the top layer and so cannot widen the document: then the scope's own sideways scrolling counts.
 */
function measureOverflow(scope) {
  const root = document.documentElement;
  const viewport = root.clientWidth;
  const container = scope ? document.querySelector(scope) : document.body;
  const selector = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (e.id) { parts.unshift(`${e.localName}#${CSS.escape(e.id)}`); break; }
      let s = e.localName + [...e.classList].slice(0, 2).map((c) => `.${CSS.escape(c)}`).join('');
      const same = e.parentElement ? [...e.parentElement.children].filter((c) => c.localName === e.localName) : [];
      if (same.length > 1) s += `:nth-of-type(${same.indexOf(e) + 1})`;
      parts.unshift(s);
      if (['main', 'header', 'footer', 'nav', 'dialog', 'body'].includes(e.localName) || parts.length >= 5) break;
    }
    return parts.join(' > ');
  };
  const clips = (el) => getComputedStyle(el).overflowX !== 'visible';
  // Content inside a sideways-scrolling box below the scope (a wide table in its own scroller) does not
  // move the page: that box itself is what counts.
  const insideScroller = (el) => {
    for (let a = el.parentElement; a && a !== container && a !== document.body && a !== root; a = a.parentElement) {
      if (clips(a)) return true;
    }
    return false;
  };
  const offenders = [];
  if (!container) return { viewport, scrollWidth: root.scrollWidth, missing: scope, offenders };
  const hidden = (el) => { const s = getComputedStyle(el); return s.display === 'none' || s.visibility === 'hidden'; };
  for (const el of container.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if ((r.width === 0 && r.height === 0) || r.right <= viewport + 0.5 || insideScroller(el)) continue;
    offenders.push({ el, selector: selector(el), right: Math.round(r.right), width: Math.round(r.width) });
  }
  // An unbreakable word runs out of its box without widening any element: measure text runs too.
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || !node.parentElement || hidden(node.parentElement) || insideScroller(node)) continue;
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.right <= viewport + 0.5) continue;
    const text = node.textContent.trim().replace(/\s+/g, ' ');
    offenders.push({ el: node.parentElement, text: true, selector: `${selector(node.parentElement)} text “${text.length > 40 ? `${text.slice(0, 40)}…` : text}”`, right: Math.round(r.right), width: Math.round(r.width) });
  }
  // A box that only reaches past the edge because a child does is not the cause: keep the innermost.
  const causes = offenders.filter((o) => !offenders.some((c) => c !== o && (c.el !== o.el ? o.el.contains(c.el) : c.text && !o.text) && Math.abs(c.right - o.right) <= 1));
  causes.sort((a, b) => b.right - a.right || b.width - a.width);
  const style = (el) => getComputedStyle(el).overflowX;
  return {
    viewport,
    scrollWidth: root.scrollWidth,
    // overflow-x: hidden on html or body hides the scrollbar but cuts the content off: still a failure.
    clippedBy: ['hidden', 'clip'].includes(style(root)) ? 'html' : ['hidden', 'clip'].includes(style(document.body)) ? 'body' : null,
    scope: scope && { scrollWidth: container.scrollWidth, clientWidth: container.clientWidth, right: Math.round(container.getBoundingClientRect().right) },
    offenders: causes.slice(0, 8).map(({ selector: sel, right, width }) => ({ selector: sel, right, width })),
  };
}

/** Fails with the URL, the view and the widest offending elements when `page` overflows sideways. */
async function assertNoSidewaysScroll(page, what, view, scope) {
  const m = await page.evaluate(measureOverflow, scope);
  const where = `${what} (${page.url()}) at ${view.name} (viewport ${m.viewport} CSS px, device scale ${view.deviceScaleFactor})`;
  const list = m.offenders.map((o) => `    ${o.selector}: right edge ${o.right} px, width ${o.width} px`).join('\n') || '    (no single element found past the right edge)';
  assert.ok(!m.missing, `${where}: ${m.missing} is not on the page`);
  assert.ok(m.scrollWidth <= m.viewport, `${where} scrolls sideways: scrollWidth ${m.scrollWidth} px > clientWidth ${m.viewport} px; past the right edge:\n${list}`);
  assert.ok(!(m.clippedBy && m.offenders.length), `${where}: content past the right edge is cut off by overflow-x on <${m.clippedBy}>:\n${list}`);
  if (m.scope) {
    assert.ok(m.scope.right <= m.viewport + 0.5, `${where}: ${scope} ends at ${m.scope.right} px, past the viewport`);
    assert.ok(m.scope.scrollWidth <= m.scope.clientWidth, `${where}: ${scope} scrolls sideways (scrollWidth ${m.scope.scrollWidth} px > clientWidth ${m.scope.clientWidth} px):\n${list}`);
    assert.deepEqual(m.offenders, [], `${where}: inside ${scope}, past the right edge:\n${list}`);
  }
}

async function open(page, build, path) {
  const before = page.externalRequests.length;
  const response = await page.goto(sites[build].url + path);
  assert.ok(response.status() === 200 || pageType(path) === 'nicht-gefunden', `${path}: HTTP ${response.status()}`);
  // Fonts and images change widths once they arrive.
  await page.evaluate(() => document.fonts.ready);
  return () => assert.deepEqual(page.externalRequests.slice(before), [], 'requests left 127.0.0.1');
}

for (const view of VIEWS) {
  for (const { type, path, build } of TYPES) {
    test(`${type} ${path} does not scroll sideways at ${view.name}`, async () => {
      const page = pages[view.name];
      const local = await open(page, build, path);
      await assertNoSidewaysScroll(page, type, view);
      local();
    });
  }

  test(`the advent calendar with door 3 open does not scroll sideways at ${view.name}`, async () => {
    const page = pages[view.name];
    await open(page, 'advent', '/adventskalender/2025/');
    await page.click('a[data-advent-door="3"]');
    await page.waitForSelector('dialog[open]');
    await assertNoSidewaysScroll(page, 'the advent calendar with a door dialog open', view, 'dialog[open]');
    await page.keyboard.press('Escape');
  });

  test(`the search with results for "Sprechstunde" does not scroll sideways at ${view.name}`, async () => {
    const page = pages[view.name];
    await open(page, 'advent', '/suche/?q=Sprechstunde');
    await page.waitForSelector('.search__result');
    assert.ok(await page.locator('.search__result').count() > 0, 'results for "Sprechstunde"');
    await assertNoSidewaysScroll(page, 'the search with results', view);
  });

  test(`the home page with the menu open does not scroll sideways at ${view.name}`, async () => {
    const page = pages[view.name];
    await open(page, 'advent', '/');
    const button = page.locator('header nav.main-nav summary.main-nav__button');
    assert.equal(await button.count(), 1, `${page.url()} at ${view.name}: no header nav.main-nav summary.main-nav__button (the menu button of the contract)`);
    // Wide views show the links without a button; open the menu only where it is a menu.
    if (await button.isVisible()) await button.click();
    await assertNoSidewaysScroll(page, 'the home page with the menu open', view);
  });
}

test('the topic pages /themen/ and /themen/<slug>/ are among the page types', () => {
  const found = TYPES.map((t) => t.type);
  assert.ok(found.includes('themen') && found.includes('thema'), `page types found: ${found.join(', ')}`);
});

test('every other page of the builds does not scroll sideways at 320px', async () => {
  // A long compound word in one title is enough to widen a page: all pages, not only one per type.
  const view = VIEWS[0];
  const page = pages[view.name];
  const tested = new Set(TYPES.map((t) => `${t.build} ${t.path}`));
  const failures = [];
  for (const [build, dir] of Object.entries(BUILDS)) {
    for (const path of builtPages(dir)) {
      if (tested.has(`${build} ${path}`)) continue;
      const local = await open(page, build, path);
      try {
        await assertNoSidewaysScroll(page, `${pageType(path)} (${build})`, view);
      } catch (e) {
        failures.push(e.message);
      }
      local();
    }
  }
  assert.ok(failures.length === 0, `${failures.length} page(s) scroll sideways:\n${failures.join('\n\n')}`);
});

// Layout shift: the observer is installed before any script of the page runs, buffered so shifts
// before it was attached count too; shifts right after user input are by definition expected.
const CLS_OBSERVER = () => {
  window.__cls = { value: 0, shifts: [] };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.hadRecentInput) continue;
      window.__cls.value += entry.value;
      window.__cls.shifts.push({
        value: entry.value,
        at: Math.round(entry.startTime),
        sources: (entry.sources || []).map((s) => {
          const n = s.node;
          if (!n || n.nodeType !== 1) return n ? `#${n.nodeName}` : '(removed node)';
          const rect = (r) => `(${Math.round(r.x)},${Math.round(r.y)} ${Math.round(r.width)}×${Math.round(r.height)})`;
          return `${n.localName}${n.id ? `#${n.id}` : ''}${[...n.classList].map((c) => `.${c}`).join('')} ${rect(s.previousRect)} → ${rect(s.currentRect)}`;
        }),
      });
    }
  }).observe({ type: 'layout-shift', buffered: true });
};

for (const [path, width, results] of [['/suche/?q=Sprechstunde', 1280, true], ['/suche/', 1280, false], ['/suche/?q=Sprechstunde', 375, true], ['/suche/', 375, false]]) {
  test(`the search page ${path} at ${width}px shifts less than 0.05 (CLS)`, async () => {
    const page = await newPage(browser, width);
    await page.addInitScript(CLS_OBSERVER);
    await page.goto(sites.advent.url + path);
    if (results) await page.waitForSelector('.search__result');
    else await page.waitForLoadState('load');
    // Let late work settle (the index arrives, the status is announced), then read the sum.
    await page.waitForTimeout(700);
    const cls = await page.evaluate(() => window.__cls);
    const shifts = cls.shifts.map((s) => `    ${s.value.toFixed(4)} at ${s.at} ms: ${s.sources.join('; ') || '(no source)'}`).join('\n');
    assert.ok(cls.value < 0.05, `${page.url()} at ${width}px: cumulative layout shift ${cls.value.toFixed(4)} ≥ 0.05:\n${shifts}`);
    assert.deepEqual(page.externalRequests, []);
    await page.context().close();
  });
}
