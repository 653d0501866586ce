// The main navigation's menu button (issue 18): below 52 rem, where the menu bar no longer fits one row, the links hide behind
// <summary class="main-nav__button">Menü</summary>, which opens by keyboard — Tab to it, Enter or
// Space — after which the links follow by Tab; at desktop width the links show without a button.
// All of it with and without JavaScript, since it is a <details>, not a script.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildSite, serve, launch, newPage } from './support.mjs';

let browser, site;
before(async () => {
  browser = await launch();
  site = await serve(buildSite('2025-12-05T13:00:00+01:00'));
});
after(async () => {
  await browser?.close();
  await site?.close();
});

const NAV = 'header nav.main-nav[aria-label="Hauptnavigation"]';
const BUTTON = `${NAV} details.main-nav__menu > summary.main-nav__button`;
// The menu's links are the items of its lists; a shortcut beside the button (the theme's „Suche“
// link on narrow windows, the search field's stand-in) is not one of them.
const LINKS = `${NAV} ul.main-nav__list a[href]`;

/** Describes the focused element for failure messages. */
const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return '(body)';
  return `${e.localName}${e.id ? `#${e.id}` : ''}${[...e.classList].map((c) => `.${c}`).join('')}${e.getAttribute('href') ? `[href="${e.getAttribute('href')}"]` : ''}`;
});

/** Presses Tab until `selector` has focus (at most `max` times); returns the elements passed on the way. */
async function tabTo(page, selector, max = 40) {
  const path = [];
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return path;
    await page.keyboard.press('Tab');
    path.push(await focused(page));
  }
  assert.fail(`${page.url()}: ${selector} not reached after ${max} Tabs; focus went: ${path.join(' → ')}`);
}

/** The page at `width`, with the contract's structure checked; returns the nav's link hrefs. */
async function openHome(width, javaScriptEnabled) {
  const page = await newPage(browser, width, { javaScriptEnabled });
  await page.goto(`${site.url}/`);
  const where = `${page.url()} at ${width}px${javaScriptEnabled ? '' : ' without JavaScript'}`;
  assert.equal(await page.locator(NAV).count(), 1, `${where}: no ${NAV}`);
  assert.equal(await page.locator(BUTTON).count(), 1, `${where}: no ${BUTTON}`);
  assert.equal((await page.locator(BUTTON).textContent()).trim(), 'Menü', `${where}: the menu button is not labelled „Menü“`);
  // A theme may render the links twice (a list in the menu, a bar for wide windows): the links are
  // the distinct addresses, in order.
  const links = [...new Set(await page.$$eval(LINKS, (as) => as.map((a) => a.getAttribute('href'))))];
  assert.ok(links.length > 0, `${where}: ${NAV} has no links`);
  return { page, where, links };
}

const visibleLinks = async (page) => [...new Set(await page.$$eval(LINKS, (as) => as
  .filter((a) => {
    // Seen, not only rendered: a 1 px visually-hidden box or an off-canvas menu does not count.
    const r = a.getBoundingClientRect();
    return a.checkVisibility({ visibilityProperty: true, opacityProperty: true })
      && r.width > 1 && r.height > 1 && r.right > 0 && r.left < window.innerWidth;
  })
  .map((a) => a.getAttribute('href'))))];

/** After the menu opened, Tab goes from the button through every link in order. */
async function assertLinksFollowByTab(page, where, links) {
  for (const href of links) {
    await page.keyboard.press('Tab');
    const now = await page.evaluate((nav) => {
      const e = document.activeElement;
      return e?.closest(nav) && e.localName === 'a' ? e.getAttribute('href') : null;
    }, NAV);
    assert.equal(now, href, `${where}: after the menu opened, Tab should reach the link ${href}; focus is on ${await focused(page)}`);
  }
}

for (const javaScriptEnabled of [true, false]) {
  const js = javaScriptEnabled ? '' : ' without JavaScript';

  for (const key of ['Enter', 'Space']) {
    test(`at 375px the menu opens with ${key} after Tab and its links follow by Tab${js}`, async () => {
      const { page, where, links } = await openHome(375, javaScriptEnabled);
      assert.deepEqual(await visibleLinks(page), [], `${where}: nav links are visible before the menu was opened`);
      assert.ok(await page.locator(BUTTON).isVisible(), `${where}: the menu button is not visible`);
      await tabTo(page, BUTTON);
      await page.keyboard.press(key);
      assert.equal(await page.locator(`${NAV} details.main-nav__menu[open]`).count(), 1, `${where}: ${key} on the focused button did not open the menu`);
      assert.deepEqual(await visibleLinks(page), links, `${where}: after ${key} not every nav link is visible`);
      await assertLinksFollowByTab(page, where, links);
      // And it closes the same way: back to the button, the same key.
      for (let i = 0; i < links.length; i++) await page.keyboard.press('Shift+Tab');
      assert.ok(await page.evaluate((s) => document.activeElement?.matches(s), BUTTON), `${where}: Shift+Tab from the links does not return to the menu button; focus is on ${await focused(page)}`);
      await page.keyboard.press(key);
      assert.deepEqual(await visibleLinks(page), [], `${where}: ${key} again did not close the menu`);
      assert.deepEqual(page.externalRequests, []);
      await page.context().close();
    });
  }

  test(`at 1280px the links show without any interaction and the menu button is hidden${js}`, async () => {
    const { page, where, links } = await openHome(1280, javaScriptEnabled);
    assert.ok(!(await page.locator(BUTTON).isVisible()), `${where}: the menu button is shown at desktop width`);
    assert.deepEqual(await visibleLinks(page), links, `${where}: not every nav link is visible without interaction`);
    // Reached by Tab directly, without passing a button that is not there.
    const path = await tabTo(page, LINKS);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), links[0], `${where}: Tab reaches ${await focused(page)} before the first nav link`);
    assert.ok(!path.some((p) => p.startsWith('summary')), `${where}: Tab passed the hidden menu button: ${path.join(' → ')}`);
    await assertLinksFollowByTab(page, where, links.slice(1));
    assert.deepEqual(page.externalRequests, []);
    await page.context().close();
  });
}
