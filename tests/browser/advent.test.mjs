// The advent calendar on 5 December 2025, 13:00: doors 1–5 open in a dialog by mouse and keyboard,
// doors 6–24 cannot be opened at all, and without JavaScript the tiles are plain links.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildSite, serve, launch, newPage, axeViolations, screenshot } from './support.mjs';

let browser;
let site;
before(async () => {
  browser = await launch();
  site = await serve(buildSite('2025-12-05T13:00:00+01:00'));
});
after(async () => {
  await browser?.close();
  await site?.close();
});

const CALENDAR = '/adventskalender/2025/';
const focusedDoor = (page) => page.evaluate(() => document.activeElement?.getAttribute('data-advent-door'));
const focusInDialog = (page) => page.evaluate(() => !!document.activeElement?.closest('dialog[open]'));

test('exactly doors 1 to 5 are open', async () => {
  const page = await newPage(browser);
  await page.goto(site.url + CALENDAR);
  const open = await page.$$eval('a[data-advent-door]', (as) => as.map((a) => a.dataset.adventDoor));
  assert.deepEqual(open, ['1', '2', '3', '4', '5']);
  assert.equal(await page.locator('.advent-door-tile--closed').count(), 19);
  await page.context().close();
});

test('a door opens by mouse; Escape closes it and focus returns to the tile', async () => {
  const page = await newPage(browser, 375);
  await page.goto(site.url + CALENDAR);
  const title = (await page.textContent('a[data-advent-door="3"] .advent-door-tile__title')).trim();
  await page.click('a[data-advent-door="3"]');
  await page.waitForSelector('dialog[open]');
  assert.ok(await focusInDialog(page), 'focus moved into the dialog');
  assert.ok((await page.textContent('dialog[open]')).includes(title));
  assert.equal(new URL(page.url()).pathname, CALENDAR, 'stayed on the calendar');
  const violations = await axeViolations(page);
  await screenshot(page, 'adventskalender-dialog-375');
  assert.deepEqual(violations, [], violations.join('\n'));
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[open]', { state: 'detached', timeout: 2000 }).catch(() => {});
  assert.equal(await page.locator('dialog[open]').count(), 0);
  assert.equal(await focusedDoor(page), '3');
  await page.context().close();
});

test('a door opens by keyboard; the close button closes it and focus returns', async () => {
  const page = await newPage(browser, 1280);
  await page.goto(site.url + CALENDAR);
  // Tab from the top of the page until door 2 has focus, as a keyboard user would.
  for (let i = 0; i < 80 && (await focusedDoor(page)) !== '2'; i++) await page.keyboard.press('Tab');
  assert.equal(await focusedDoor(page), '2', 'door 2 reachable by Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  assert.ok(await focusInDialog(page));
  await screenshot(page, 'adventskalender-dialog-1280');
  const close = page.locator('dialog[open] [data-advent-close]');
  await close.focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('dialog[open]').count(), 0);
  assert.equal(await focusedDoor(page), '2');
  await page.context().close();
});

test('closed doors cannot be opened', async () => {
  const page = await newPage(browser);
  await page.goto(site.url + CALENDAR);
  const closed = page.locator('.advent-door-tile--closed').first();
  assert.equal(await closed.locator('a, button, [tabindex]').count(), 0, 'no control on a closed door');
  await closed.click();
  assert.equal(await page.locator('dialog[open]').count(), 0);
  assert.equal(new URL(page.url()).pathname, CALENDAR);
  const response = await page.goto(site.url + '/adventskalender/2025/6/');
  assert.equal(response.status(), 404);
  await page.context().close();
});

test('without JavaScript an open door is a link to its own page', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(site.url + CALENDAR);
  await page.click('a[data-advent-door="4"]');
  await page.waitForURL('**/adventskalender/2025/4/');
  assert.equal(await page.locator('h1').count(), 1);
  await context.close();
});
