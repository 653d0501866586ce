// Long German words break only where the build put a soft hyphen (the de-1996 patterns'
// syllable boundaries), never mid-syllable as "Zusammenar|beit" or "Registermodernisier|ung":
// at 320 px, and again with the element squeezed so the word has to break.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildSite, serve, launch, newPage } from './support.mjs';

let browser;
let site;
before(async () => {
  browser = await launch();
  // Door 4 ("Zusammenarbeit am Online-Whiteboard") is open from 4 December on.
  site = await serve(buildSite('2025-12-05T13:00:00+01:00'));
});
after(async () => {
  await browser?.close();
  await site?.close();
});

const SHY = '\u00ad';

// For the first text node under `selector` whose text (without soft hyphens) contains `word`:
// the line (top of its box) of each character of the word, and which characters have a soft
// hyphen before them. `squeeze` sets a narrow width first, so the word cannot fit on one line.
async function linesOfWord(page, selector, word, squeeze) {
  return page.evaluate(
    ({ selector, word, squeeze, SHY }) => {
      for (const element of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const raw = node.data;
          const plain = raw.replaceAll(SHY, '');
          const at = plain.indexOf(word);
          if (at < 0) continue;
          if (squeeze) {
            element.style.width = squeeze;
            element.style.maxWidth = squeeze;
          }
          // Offsets in the raw text of each letter of the word.
          const offsets = [];
          let seen = 0;
          for (let i = 0; i < raw.length && offsets.length < word.length; i++) {
            if (raw[i] === SHY) continue;
            if (seen >= at) offsets.push(i);
            seen++;
          }
          const range = document.createRange();
          const letters = offsets.map((offset, k) => {
            range.setStart(node, offset);
            range.setEnd(node, offset + 1);
            // A range that starts where a line breaks also has an empty box at the end of
            // the line before: the letter's own box is the one with a width.
            const rect = [...range.getClientRects()].filter((r) => r.width > 0).pop();
            return {
              letter: raw[offset],
              top: Math.round(rect ? rect.top : NaN),
              shyBefore: k > 0 && raw.slice(offsets[k - 1] + 1, offset).includes(SHY),
            };
          });
          return { found: true, text: raw, letters };
        }
      }
      return { found: false };
    },
    { selector, word, squeeze, SHY },
  );
}

// Asserts every line break inside `word` follows a soft hyphen; returns how many there are.
function assertBreaksAtSoftHyphens(result, word) {
  assert.ok(result.found, `"${word}" not found`);
  assert.ok(result.text.includes(SHY), `"${word}" has no soft hyphens: ${JSON.stringify(result.text)}`);
  let breaks = 0;
  const parts = [''];
  result.letters.forEach((l, k) => {
    assert.ok(!Number.isNaN(l.top), `letter ${k} of "${word}" has no box`);
    if (k > 0 && l.top !== result.letters[k - 1].top) {
      breaks++;
      parts.push('');
      assert.ok(
        l.shyBefore,
        `"${word}" breaks before letter ${k} (${parts.join('|')}${l.letter}…) where no soft hyphen is`,
      );
    }
    parts[parts.length - 1] += l.letter;
  });
  return breaks;
}

const CASES = [
  { path: '/adventskalender/2025/', selector: '.advent-door-tile__title', word: 'Zusammenarbeit' },
  {
    path: '/sprechstunden/58-registermodernisierung/',
    selector: 'h1',
    word: 'Registermodernisierung',
  },
];

for (const { path, selector, word } of CASES) {
  test(`"${word}" breaks only at syllable boundaries at 320 px (${path})`, async () => {
    const page = await newPage(browser, 320);
    const response = await page.goto(site.url + path);
    assert.equal(response.status(), 200);
    assertBreaksAtSoftHyphens(await linesOfWord(page, selector, word, null), word);
    // Squeezed to a few letters, the word must break, and each break is a soft hyphen's.
    const squeezed = await linesOfWord(page, selector, word, '4.5em');
    const breaks = assertBreaksAtSoftHyphens(squeezed, word);
    assert.ok(breaks >= 2, `"${word}" squeezed to 4.5em broke ${breaks} times`);
    await page.context().close();
  });
}

test('the heading self-links are no Tab stops and the contents list leads to the sections', async () => {
  const page = await newPage(browser, 1280);
  await page.goto(site.url + '/projekte/gdst/');
  const anchors = await page.$$eval('.prose .heading-anchor', (as) =>
    as.map((a) => ({ tabindex: a.getAttribute('tabindex'), hidden: a.getAttribute('aria-hidden') })),
  );
  assert.ok(anchors.length >= 3, `only ${anchors.length} heading anchors`);
  for (const a of anchors) assert.deepEqual(a, { tabindex: '-1', hidden: 'true' });
  const tocLinks = await page.$$eval('nav.toc a', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(tocLinks.length >= 3, 'GDST has a contents list');
  // Tabbing through the whole page never lands on a heading's self-link.
  for (let i = 0; i < 200; i++) {
    await page.keyboard.press('Tab');
    const cls = await page.evaluate(() => document.activeElement?.className ?? '');
    assert.ok(!String(cls).includes('heading-anchor'), 'a heading anchor took focus');
  }
  // A contents entry leads to its heading by keyboard.
  const first = page.locator('nav.toc a').first();
  await first.focus();
  await page.keyboard.press('Enter');
  assert.equal(new URL(page.url()).hash, tocLinks[0]);
  await page.context().close();
});
