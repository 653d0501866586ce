// The site search on the bundled OZG site in Chromium: German word forms and umlauts, the area
// filter, keyboard-only use from the header field, no third-party requests, axe-core clean, and
// a useful page without JavaScript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildSite, serve, launch, newPage, axeViolations, screenshot } from './support.mjs';

let server, browser;
before(async () => {
  server = await serve(buildSite('2025-12-05T13:00:00+01:00'));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function results(page) {
  await page.waitForSelector('.search__status:not(:empty)');
  return page.$$eval('.search__result', (items) => items.map((li) => ({
    title: li.querySelector('h2').textContent,
    meta: li.querySelector('.search__meta').textContent,
    marked: [...li.querySelectorAll('mark')].map((m) => m.textContent),
  })));
}

test('a stemmed form finds the compound: "Lotsen" finds "Digital-Lotsen"', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/suche/?q=Lotsen`);
  const found = await results(page);
  assert.ok(found.some((r) => r.title === 'Digital-Lotsen'), JSON.stringify(found));
  const first = found.find((r) => r.title === 'Digital-Lotsen');
  assert.ok(first.meta.startsWith('Projekte'), first.meta);
  assert.ok(first.marked.some((m) => /Lotsen/.test(m)), 'the hit is marked in the snippet');
  assert.match(await page.textContent('.search__status'), /Treffer für „Lotsen“/);
  assert.deepEqual(page.externalRequests, []);
  await screenshot(page, 'search-lotsen');
});

test('umlauts may be written as ae/oe/ue: "Gebaerdensprache"', async () => {
  const page = await newPage(browser, 375);
  await page.goto(`${server.url}/suche/?q=Gebaerdensprache`);
  const found = await results(page);
  assert.equal(found[0]?.title, 'Informationen in Deutscher Gebärdensprache', JSON.stringify(found));
});

test('a plural finds the singular, and the area filter narrows the results', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/suche/?q=Sprechstunden&bereich=OZG-Sprechstunden`);
  const found = await results(page);
  assert.ok(found.length >= 3, JSON.stringify(found));
  assert.ok(found.every((r) => r.meta.startsWith('OZG-Sprechstunden')), JSON.stringify(found));
  assert.ok(found.some((r) => r.title === '2. GDST-Forum' && r.meta.endsWith('03.12.2025')), JSON.stringify(found));
  assert.ok(found.every((r) => r.marked.some((m) => /Sprechstunde/.test(m))), 'the singular is marked');
  assert.equal(await page.inputValue('#bereich'), 'OZG-Sprechstunden');
});

test('by keyboard only: from the header field to a result', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/`);
  for (let i = 0; i < 10 && await page.evaluate(() => document.activeElement?.id) !== 'kopf-suche'; i++) {
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'kopf-suche', 'the header field is reached with Tab');
  await page.keyboard.type('Digital-Lotsen');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/suche\/\?q=Digital-Lotsen/);
  await results(page);
  for (let i = 0; i < 30 && !(await page.evaluate(() => document.activeElement?.closest('.search__result'))); i++) {
    await page.keyboard.press('Tab');
  }
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, 'Digital-Lotsen');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/projekte\/digital-lotsen\//);
  assert.deepEqual(await axeViolations(page), []);
});

test('the search page with results passes axe-core', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/suche/?q=Registermodernisierung`);
  await results(page);
  assert.deepEqual(await axeViolations(page), []);
});

test('without JavaScript the page says how to search and leads to the page overview', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'de-DE' });
  const page = await context.newPage();
  await page.goto(`${server.url}/suche/?q=Lotsen`);
  assert.match(await page.textContent('.search__help'), /braucht JavaScript/);
  await page.click('.search__help a[href$="/seitenuebersicht/"]');
  await page.waitForURL(/\/seitenuebersicht\//);
  const headings = await page.$$eval('.prose h2', (hs) => hs.map((h) => h.textContent));
  assert.ok(headings.includes('Projekte') && headings.includes('OZG-Sprechstunden'), headings.join(', '));
  assert.ok(await page.isVisible('a[href$="/projekte/digital-lotsen/"]'));
  await context.close();
});
