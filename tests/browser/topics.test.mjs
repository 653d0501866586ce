// The topic pages of the bundled OZG site in Chromium: /themen/ and a topic page clean under
// axe-core and the Nu checker, the topic links of a page lead to its topic, and the search's
// "Thema" filter narrows the results, as a choice and as `?thema=` in a link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildSite, serve, launch, newPage, axeViolations, screenshot, ROOT } from './support.mjs';

let dir, server, browser;
before(async () => {
  dir = buildSite('2025-12-05T13:00:00+01:00');
  server = await serve(dir);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('the topic pages are valid HTML for the Nu checker', () => {
  const files = ['themen/index.html', 'themen/gdst/index.html', 'themen/gdst/seite/2/index.html',
    'themen/efa/index.html'].map((f) => join(dir, f));
  const run = spawnSync('java', ['-jar', join(ROOT, 'node_modules/vnu-jar/build/dist/vnu.jar'),
    '--errors-only', ...files], { encoding: 'utf8' });
  assert.equal(run.error, undefined, `could not run java: ${run.error}`);
  assert.equal(run.status, 0, run.stderr || run.stdout);
});

for (const [path, width] of [['/themen/', 1280], ['/themen/gdst/', 1280], ['/themen/gdst/', 320], ['/themen/gdst/seite/2/', 375]]) {
  test(`${path} at ${width} px is clean under axe-core and loads nothing from elsewhere`, async () => {
    const page = await newPage(browser, width);
    await page.goto(`${server.url}${path}`);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(page.externalRequests, []);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    await screenshot(page, `topics${path.replaceAll('/', '-')}${width}`);
  });
}

test('the topic list names every topic and leads to its page', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/themen/`);
  const titles = await page.$$eval('.card__title a', (as) => as.map((a) => a.textContent));
  assert.ok(titles.includes('Digital-Lotsen'), JSON.stringify(titles));
  await page.click('text=Digital-Lotsen');
  await page.waitForURL('**/themen/digital-lotsen/');
  assert.equal(await page.textContent('h1'), 'Digital-Lotsen');
  const cards = await page.$$eval('.card__title a', (as) => as.map((a) => a.textContent));
  assert.ok(cards.includes('Digital-Lotsen'), 'the project page is in its topic');
});

test('a page shows its topics as a labelled list whose links lead to the topic page', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/projekte/zsa/`);
  const list = page.getByRole('list', { name: 'Themen:' });
  assert.equal(await list.count(), 1);
  await list.getByRole('link', { name: 'Zentrale Serviceangebote (ZSA)' }).click();
  await page.waitForURL('**/themen/zsa/');
  const cards = await page.$$eval('.card__title a', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(cards.includes('/projekte/zsa/'), JSON.stringify(cards));
  assert.ok(cards.includes('/sprechstunden/57-einblick-in-die-zsa-machbarkeitsstudie/'), JSON.stringify(cards));
});

async function resultTitles(page) {
  await page.waitForSelector('.search__status:not(:empty)');
  return page.$$eval('.search__result h2', (hs) => hs.map((h) => h.textContent));
}

test('the topic filter narrows the results, and ?thema= works as a link', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/suche/?q=Kommunen`);
  const all = await resultTitles(page);
  await page.selectOption('#thema', 'digital-lotsen');
  await page.click('.search__form button[type=submit]');
  await page.waitForFunction(() => /im Thema/.test(document.querySelector('.search__status').textContent));
  const narrowed = await resultTitles(page);
  assert.ok(narrowed.length > 0 && narrowed.length < all.length, `${narrowed.length} of ${all.length}`);
  assert.ok(narrowed.includes('Digital-Lotsen'), JSON.stringify(narrowed));
  assert.match(page.url(), /[?&]thema=digital-lotsen/);
  assert.match(await page.textContent('.search__status'), /im Thema „Digital-Lotsen“/);

  // The topic page's link: the topic alone, without words, lists all its pages.
  await page.goto(`${server.url}/themen/registermodernisierung/`);
  await page.click('text=Im Thema „Registermodernisierung“ suchen');
  await page.waitForURL('**/suche/?thema=registermodernisierung');
  const inTopic = await resultTitles(page);
  assert.equal(await page.inputValue('#thema'), 'registermodernisierung');
  assert.ok(inTopic.includes('RegMo-Roadshow in Magdeburg'), JSON.stringify(inTopic));
  assert.ok(!inTopic.includes('Digital-Lotsen'), JSON.stringify(inTopic));
  assert.deepEqual(await axeViolations(page), []);
});

test('the topic select fits a 320 px screen', async () => {
  const page = await newPage(browser, 320);
  await page.goto(`${server.url}/suche/`);
  const right = await page.$eval('#thema', (s) => s.getBoundingClientRect().right);
  assert.ok(right <= 320, `the select ends at ${right} px`);
});
