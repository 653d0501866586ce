// The preview server in Chromium: a saved edit reloads the open page, a CSS change swaps the
// stylesheet without reloading, a broken save shows the error overlay and the next good save
// clears it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, newPage, axeViolations, screenshot } from './support.mjs';

const BIN = process.env.OZG_SITE_BIN || join(ROOT, 'target/debug/ozg-site');
let browser;
let server;
let site;
let url;

before(async () => {
  site = mkdtempSync(join(tmpdir(), 'ozg-serve-'));
  cpSync(join(ROOT, 'tests/fixtures/basic'), site, { recursive: true });
  server = spawn(BIN, ['serve', '--root', site, '--port', '0', '--now', '2025-12-05T13:00:00+01:00']);
  url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not start')), 30000);
    server.stdout.on('data', (chunk) => {
      const m = /http:\/\/[0-9.:]+/.exec(chunk.toString());
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.kill();
});

const kontakt = () => join(site, 'content/kontakt.md');

/** Opens a preview page and waits until its live-reload connection stands. */
async function openPreview(path, width = 1280) {
  const page = await newPage(browser, width);
  await page.goto(url + path);
  await page.waitForSelector('html[data-ozg-live=connected]', { timeout: 20000 });
  return page;
}

test('a saved edit reloads the open page with the new text', async () => {
  const page = await openPreview('/kontakt/');
  writeFileSync(kontakt(), '---\ntitle: Kontakt\n---\nNeue Sprechzeiten: dienstags.\n');
  await page.waitForFunction(() => document.body.textContent.includes('Neue Sprechzeiten'), null, { timeout: 20000 });
  await page.context().close();
});

test('a stylesheet change is swapped in without a reload', async () => {
  const page = await openPreview('/kontakt/');
  await page.evaluate(() => { window.__notReloaded = true; });
  // The site's own stylesheet overrides the theme's: only a CSS file changes.
  writeFileSync(join(site, 'static/css/site.css'), 'body { outline: 3px solid rgb(1, 2, 3); }\n');
  await page.waitForFunction(
    () => [...document.querySelectorAll('link[rel=stylesheet]')].some((l) => l.href.includes('site.css?v=')),
    null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
  await page.context().close();
});

test('a broken save shows an accessible overlay; the next good save clears it', async () => {
  const page = await openPreview('/kontakt/');
  const good = readFileSync(kontakt(), 'utf8');
  writeFileSync(kontakt(), '---\ntitel: Kontakt\n---\nText\n');
  const overlay = page.locator('#ozg-site-error-overlay[role=alert]');
  await overlay.waitFor({ timeout: 20000 });
  const text = await overlay.textContent();
  assert.match(text, /content\/kontakt\.md:2:1/);
  assert.match(text, /did you mean `title`/);
  const violations = await axeViolations(page);
  await screenshot(page, 'vorschau-fehler-1280');
  assert.deepEqual(violations, [], violations.join('\n'));

  // A page opened while the site is broken shows the overlay too.
  const other = await newPage(browser, 375);
  await other.goto(url + '/');
  await other.locator('#ozg-site-error-overlay').waitFor({ timeout: 20000 });
  await other.context().close();

  writeFileSync(kontakt(), good);
  await page.waitForFunction(() => !document.getElementById('ozg-site-error-overlay'), null, { timeout: 20000 });
  await page.context().close();
});
