// Screenshots of every page type at the five widths of issue 18 (320, 375, 768, 1280, 1920 px) and at
// 200 % and 400 % zoom of a 1280 × 1024 screen, for people to look at: the first screen of each page
// (not the full page, to keep the folder small), in tests/artifacts/screenshots/<type>-<view>.png.
// The suite checks that each was written; what they show is for the reviewer (CI keeps the folder).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, buildSite, serve, launch, newPage } from './support.mjs';
import { discoverPageTypes } from './pages.mjs';

const BUILDS = { advent: buildSite('2025-12-05T13:00:00+01:00'), heute: buildSite('2026-11-23T10:00:00+01:00') };
const TYPES = discoverPageTypes(BUILDS);
const DIR = join(ARTIFACTS, 'screenshots');

const VIEWS = [
  { name: '320', viewport: { width: 320, height: 568 }, deviceScaleFactor: 1 },
  { name: '375', viewport: { width: 375, height: 667 }, deviceScaleFactor: 1 },
  { name: '768', viewport: { width: 768, height: 1024 }, deviceScaleFactor: 1 },
  { name: '1280', viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  { name: '1920', viewport: { width: 1920, height: 1080 }, deviceScaleFactor: 1 },
  // Browser zoom on a 1280 × 1024 screen: fewer CSS pixels, more device pixels per CSS pixel.
  { name: 'zoom200', viewport: { width: 640, height: 512 }, deviceScaleFactor: 2 },
  { name: 'zoom400', viewport: { width: 320, height: 256 }, deviceScaleFactor: 4 },
];

// States a page type alone does not show: prepared by a function after the page has loaded.
const STATES = [
  { type: 'adventskalender-tuer-offen', build: 'advent', path: '/adventskalender/2025/', prepare: async (page) => {
    await page.click('a[data-advent-door="3"]');
    await page.waitForSelector('dialog[open]');
  } },
  { type: 'suche-treffer', build: 'advent', path: '/suche/?q=Sprechstunde', prepare: (page) => page.waitForSelector('.search__result') },
];

let browser;
const sites = {};
before(async () => {
  rmSync(DIR, { recursive: true, force: true }); // no stale picture of a page type that is gone
  mkdirSync(DIR, { recursive: true });
  browser = await launch();
  for (const [name, dir] of Object.entries(BUILDS)) sites[name] = await serve(dir);
});
after(async () => {
  await browser?.close();
  for (const s of Object.values(sites)) await s.close();
});

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

for (const view of VIEWS) {
  test(`screenshots of every page type at ${view.name}`, async () => {
    // One page per view, navigated from type to type: contexts are what costs time.
    // Reduced motion instead of Playwright's `animations: 'disabled'`, which costs a round trip per shot.
    const page = await newPage(browser, view.viewport.width, { viewport: view.viewport, deviceScaleFactor: view.deviceScaleFactor, reducedMotion: 'reduce' });
    const problems = [];
    for (const { type, build, path, prepare } of [...TYPES, ...STATES]) {
      const file = join(DIR, `${type}-${view.name}.png`);
      await page.goto(sites[build].url + path);
      await page.evaluate(() => document.fonts.ready);
      await prepare?.(page);
      await page.screenshot({ path: file, caret: 'hide' });
      let size = 0;
      try { size = statSync(file).size; } catch { /* reported below */ }
      if (size === 0) problems.push(`${file}: not written (page ${path})`);
      else if (!readFileSync(file).subarray(0, 8).equals(PNG)) problems.push(`${file}: not a PNG`);
    }
    assert.deepEqual(page.externalRequests, [], 'requests left 127.0.0.1');
    await page.context().close();
    assert.ok(problems.length === 0, problems.join('\n'));
  });
}
