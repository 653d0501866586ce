// axe-core (WCAG 2.1 A/AA) finds zero violations on every page type, at phone and desktop width,
// and no page requests anything from another host. Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildSite, serve, launch, newPage, axeViolations, screenshot } from './support.mjs';

const PAGES = {
  home: '/',
  'sprechstunden-liste': '/sprechstunden/',
  'sprechstunde': '/sprechstunden/69-gdst-forum/',
  'aktuelles-liste': '/aktuelles/',
  // Page 2 of the news exists once more than ten items are out (in 2026).
  'aktuelles-seite-2': ['/aktuelles/seite/2/', 'heute'],
  'termine': '/termine/',
  'termin': '/termine/regmo-roadshow-in-magdeburg/',
  'projekte': '/projekte/',
  'projekt-gdst': '/projekte/gdst/',
  'adventskalender': '/adventskalender/2025/',
  'adventstuer': '/adventskalender/2025/3/',
  'newsletter-archiv': '/newsletter/',
  'newsletter': '/newsletter/2/',
  impressum: '/impressum/',
  kontakt: '/kontakt/',
  datenschutz: '/datenschutz/',
  barrierefreiheit: '/barrierefreiheit/',
  'leichte-sprache': '/leichte-sprache/',
  gebaerdensprache: '/gebaerdensprache/',
  'nicht-gefunden': '/gibt-es-nicht/',
};

let browser;
const sites = {};
before(async () => {
  browser = await launch();
  // In the advent season, and "today" (late 2026: no session announced, calendar long over).
  for (const [name, now] of [['advent', '2025-12-05T13:00:00+01:00'], ['heute', '2026-11-23T10:00:00+01:00']]) {
    sites[name] = await serve(buildSite(now));
  }
});
after(async () => {
  await browser?.close();
  for (const s of Object.values(sites)) await s.close();
});

for (const [name, entry] of Object.entries(PAGES)) {
  const [path, when] = Array.isArray(entry) ? entry : [entry, 'advent'];
  for (const width of [375, 1280]) {
    test(`${name} at ${width}px has no WCAG 2.1 AA violations`, async () => {
      const page = await newPage(browser, width);
      const response = await page.goto(sites[when].url + path);
      assert.ok(response.status() === 200 || name === 'nicht-gefunden', `${path}: HTTP ${response.status()}`);
      assert.equal(await page.getAttribute('html', 'lang'), 'de');
      const violations = await axeViolations(page);
      await screenshot(page, `${name}-${width}`);
      assert.deepEqual(violations, [], violations.join('\n'));
      assert.deepEqual(page.externalRequests, []);
      await page.context().close();
    });
  }
}

test('the home page today says plainly that no Sprechstunde is announced', async () => {
  const page = await newPage(browser, 375);
  await page.goto(sites.heute.url + '/');
  const violations = await axeViolations(page);
  await screenshot(page, 'home-heute-375');
  assert.deepEqual(violations, [], violations.join('\n'));
  const text = await page.textContent('main');
  assert.doesNotMatch(text, /Türchen \d+ ist geöffnet/);
  await page.context().close();
});

test('the Sprechstunden list today shows the archive grouped by year', async () => {
  const page = await newPage(browser, 1280);
  await page.goto(sites.heute.url + '/sprechstunden/');
  const violations = await axeViolations(page);
  await screenshot(page, 'sprechstunden-heute-1280');
  assert.deepEqual(violations, [], violations.join('\n'));
  const headings = await page.$$eval('main h2, main h3', (hs) => hs.map((h) => h.textContent.trim()));
  assert.ok(headings.some((h) => h.includes('2025')), headings.join(' | '));
  await page.context().close();
});
