// The newsletter e-mail in a real browser engine at phone (375 px) and mail-pane (600 px) widths:
// nothing may stick out sideways, nothing may be wider than 600 px, and the pages are kept as
// screenshots in tests/artifacts/ for a person to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, ARTIFACTS, launch, newPage, axeViolations } from './support.mjs';

const BIN = process.env.OZG_SITE_BIN || join(ROOT, 'target/debug/ozg-site');

function buildEdition(number) {
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: run cargo build first`);
  const out = mkdtempSync(join(tmpdir(), 'ozg-email-'));
  const run = spawnSync(BIN, ['newsletter', 'build', String(number), '--root', ROOT,
    '--now', '2025-12-05T13:00:00+01:00', '--out', out], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, '', 'the bundled edition builds without warnings');
  return readFileSync(join(out, String(number), 'email.html'), 'utf8');
}

test('the e-mail of edition 2 fits phones and the 600 px mail pane', async () => {
  const html = buildEdition(2);
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launch();
  try {
    for (const width of [375, 600]) {
      const page = await newPage(browser, width);
      // Images are addressed absolutely to the public site; offline they show their alt text.
      await page.setContent(html, { waitUntil: 'load' });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${width} px: the e-mail is ${overflow} px wider than the window`);
      await page.screenshot({ path: join(ARTIFACTS, `email-${width}.png`), fullPage: true });
      await page.close();
    }
    const wide = await newPage(browser, 1280);
    await wide.setContent(html, { waitUntil: 'load' });
    const tooWide = await wide.evaluate(() => [...document.querySelectorAll('table, img, td, p, h1, h2, h3, ul, ol')]
      .filter((e) => e.getBoundingClientRect().width > 600.5)
      .map((e) => `${e.tagName} ${Math.round(e.getBoundingClientRect().width)} px`));
    assert.deepEqual(tooWide, [], 'no content element is wider than 600 px on a wide screen');
    assert.deepEqual(await axeViolations(wide), [], 'the e-mail passes the WCAG 2.1 AA checks');
  } finally {
    await browser.close();
  }
});
