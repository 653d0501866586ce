// "Barriere melden" as readers meet it: the static site and `ozg-site subscriptions serve` behind
// one address, the way nginx puts them together (the service's paths go to the service, the rest
// is the built site). A reader finds the form through the footer, fills it in and sends it with the
// keyboard alone and without JavaScript, at 375 and 1280 px; a mistake comes back with an error
// summary; the report lands in the service's outbox. Every page is accessible (axe-core) and valid
// HTML (Nu checker); a site without the service names the address to write to instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ROOT, launch, newPage, axeViolations, screenshot, serve, siteWithProxy, startService,
} from './support.mjs';

const BIN = process.env.OZG_SITE_BIN || join(ROOT, 'target/debug/ozg-site');
const NOW = '2025-12-05T13:00:00+01:00';
const FORM_PATH = '/barrierefreiheit/melden';
/** What the reverse proxy passes to the service. */
const SERVICE_PATHS = new Set(['/newsletter/anmelden', '/newsletter/bestaetigen', '/newsletter/abmelden', FORM_PATH]);
const TEAM = 'ozg@sachsen-anhalt.de';

let browser;
let tmp;
let site;
let siteUrl;
let proxy;
let service;

function build(root, out, baseUrl) {
  const run = spawnSync(BIN, ['build', '--root', root, '--output', out, '--base-url', baseUrl, '--now', NOW],
    { encoding: 'utf8' });
  assert.equal(run.status, 0, `build failed:\n${run.stderr}`);
}

function copySite(to, edit = (yaml) => yaml) {
  for (const part of ['content', 'themes', 'static', 'newsletters']) {
    cpSync(join(ROOT, part), join(to, part), { recursive: true });
  }
  writeFileSync(join(to, 'site.yaml'), edit(readFileSync(join(ROOT, 'site.yaml'), 'utf8')));
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ozg-feedback-'));
  site = join(tmp, 'site');
  copySite(site);
  const out = join(tmp, 'public');
  // The port is part of every link, so listen first, then build with it.
  proxy = siteWithProxy(out, SERVICE_PATHS, () => service.url);
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  siteUrl = `http://127.0.0.1:${proxy.address().port}`;
  build(site, out, siteUrl);
  // No mail server: the reports go to the outbox folder, where the tests read them.
  service = await startService(site, ['--db', join(tmp, 'db.sqlite'), '--base-url', siteUrl]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (proxy ? proxy.close(ok) : ok()));
  if (!service) return;
  const child = service.process;
  const early = child.exitCode !== null || child.signalCode !== null;
  if (!early) {
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    await exited;
  }
  assert.ok(!early, `the service exited early:\n${service.log()}`);
  rmSync(tmp, { recursive: true, force: true });
});

/** Decodes a quoted-printable body (RFC 2045): soft line breaks, then `=XX` bytes as UTF-8. */
function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) { bytes.push(parseInt(hex, 16)); i += 2; }
    else bytes.push(...Buffer.from(joined[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The report mail to the team whose text holds `marker`, waiting up to 10 s for it: its head and
 * its decoded body. */
async function reportMail(marker) {
  const outbox = join(site, '.ozg-site/outbox/anmeldungen');
  const deadline = Date.now() + 10000;
  for (;;) {
    const names = existsSync(outbox) ? readdirSync(outbox).filter((n) => n.endsWith('.eml')) : [];
    for (const name of names) {
      const raw = readFileSync(join(outbox, name), 'utf8');
      const split = raw.search(/\r?\n\r?\n/);
      const head = raw.slice(0, split);
      const body = decodeQuotedPrintable(raw.slice(split));
      if (new RegExp(`^To: <?${TEAM.replace(/\./g, '\\.')}>?\\r?$`, 'mi').test(head) && body.includes(marker)) {
        return { head, body };
      }
    }
    assert.ok(Date.now() < deadline, `no report with ${marker} in ${outbox} after 10 s\n${service.log()}`);
    await sleep(100);
  }
}

async function assertAccessible(page, name) {
  const violations = await axeViolations(page);
  await screenshot(page, name);
  assert.deepEqual(violations, [], violations.join('\n'));
}

/** Navigation by a click or key press; returns the response of the page it leads to. */
async function submits(page, action) {
  const [response] = await Promise.all([page.waitForNavigation(), action()]);
  return response;
}

const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return el?.id || `${el?.tagName.toLowerCase()}:${el?.textContent.trim()}`;
});

/** Presses Tab until `target` has the focus; fails after `limit` presses. */
async function tabTo(page, target, limit) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await focused(page) === target) return;
  }
  assert.fail(`${target} not reached with ${limit} presses of Tab (focus on ${await focused(page)})`);
}

const SENT = /^Vielen Dank für Ihre Meldung$/;

for (const width of [375, 1280]) {
  test(`at ${width}px a reader reaches the form from the footer and sends a report with the keyboard alone, without JavaScript`, async () => {
    const marker = `Tastatur-${width}`;
    const page = await newPage(browser, width, { javaScriptEnabled: false });
    await page.goto(siteUrl + '/');
    await submits(page, () => page.locator('footer').getByRole('link', { name: 'Barriere melden' }).click());
    assert.equal(new URL(page.url()).pathname, '/barriere-melden/');
    assert.equal((await page.locator('h1').textContent()).trim(), 'Barriere melden');

    await tabTo(page, 'barriere-beschreibung', 200);
    await page.keyboard.type(`Das Menü öffnet sich nicht mit der Eingabetaste. ${marker}`);
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'barriere-seite');
    await page.keyboard.type('/termine/');
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'barriere-email');
    await page.keyboard.type(`leserin-${width}@example.org`);
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'barriere-name');
    await page.keyboard.type('Erika Müller');
    await tabTo(page, 'button:Barriere melden', 3);
    const sent = await submits(page, () => page.keyboard.press('Enter'));
    assert.equal(sent.status(), 200);
    assert.equal(new URL(page.url()).origin + new URL(page.url()).pathname, siteUrl + FORM_PATH);
    assert.match((await page.locator('h1').textContent()).trim(), SENT);
    assert.match(await page.locator('main').textContent(), new RegExp(`leserin-${width}@example\\.org`));
    assert.deepEqual(page.externalRequests, []);
    await page.context().close();

    const { head, body } = await reportMail(marker);
    assert.match(head, new RegExp(`^Reply-To: .*<leserin-${width}@example\\.org>\\r?$`, 'mi'));
    assert.match(head, new RegExp(`^Subject: Barriere gemeldet: ${siteUrl.replace(/\./g, '\\.')}/termine/\\r?$`, 'mi'));
    assert.match(body, /Das Menü öffnet sich nicht mit der Eingabetaste/);
  });
}

test('the page with the form and the page after sending are accessible at both widths', async () => {
  for (const width of [375, 1280]) {
    const page = await newPage(browser, width, { bypassCSP: true });
    const response = await page.goto(siteUrl + '/barriere-melden/');
    assert.equal(response.status(), 200);
    await assertAccessible(page, `feedback-page-${width}`);
    const form = page.locator('main form');
    assert.equal(await form.getAttribute('action'), siteUrl + FORM_PATH);
    await form.getByLabel('Was ist die Barriere?').fill(`Barrierefrei geprüft ${width}`);
    const sent = await submits(page, () => form.getByRole('button', { name: 'Barriere melden' }).click());
    assert.equal(sent.status(), 200);
    assert.match((await page.locator('h1').textContent()).trim(), SENT);
    await assertAccessible(page, `feedback-sent-${width}`);
    await page.context().close();
    await reportMail(`Barrierefrei geprüft ${width}`);
  }
});

test('a mistake comes back with an error summary that leads to the field; the text stays; corrected, it is sent', async () => {
  const page = await newPage(browser, 375, { bypassCSP: true });
  const asked = await page.goto(`${siteUrl}${FORM_PATH}?seite=%2Ftermine%2F`);
  assert.equal(asked.status(), 200);
  assert.equal(await page.getByLabel('Auf welcher Seite? (freiwillig)').inputValue(), `${siteUrl}/termine/`);
  await assertAccessible(page, 'feedback-form-375');
  await page.getByLabel('Was ist die Barriere?').fill('Der Kontrast der Fußzeile ist zu schwach.');
  await page.getByLabel('Ihre E-Mail-Adresse für unsere Antwort (freiwillig)').fill('erika@');
  const refused = await submits(page, () => page.getByRole('button', { name: 'Barriere melden' }).click());
  assert.equal(refused.status(), 422);
  assert.match(await page.title(), /^Fehler: Barriere melden/);
  const summary = page.getByRole('alert');
  assert.equal(await summary.count(), 1);
  await page.waitForFunction(() => document.activeElement?.classList.contains('error-summary'), null, { timeout: 5000 });
  const field = page.getByLabel('Ihre E-Mail-Adresse für unsere Antwort (freiwillig)');
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  assert.equal(await field.inputValue(), 'erika@');
  assert.equal(await page.getByLabel('Was ist die Barriere?').inputValue(), 'Der Kontrast der Fußzeile ist zu schwach.');
  const described = (await field.getAttribute('aria-describedby')).split(' ');
  assert.equal(described.length, 2, 'the hint and the error');
  assert.match(await page.locator(`#${described[1]}`).textContent(), /Fehler: .*unvollständig/);
  await assertAccessible(page, 'feedback-error-375');
  const toField = summary.getByRole('link');
  assert.equal(await toField.count(), 1);
  await toField.click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), await field.getAttribute('id'));
  await field.fill('erika@example.org');
  const sent = await submits(page, () => page.getByRole('button', { name: 'Barriere melden' }).click());
  assert.equal(sent.status(), 200);
  await reportMail('Der Kontrast der Fußzeile ist zu schwach.');
  await page.context().close();
});

test('the pages of the form are valid HTML (Nu checker)', async () => {
  const dir = join(tmp, 'nu');
  mkdirSync(dir);
  const save = async (name, response, status) => {
    assert.equal(response.status, status, `${name}: HTTP ${response.status}`);
    writeFileSync(join(dir, `${name}.html`), await response.text());
  };
  const post = (fields) => fetch(siteUrl + FORM_PATH, { method: 'POST', body: new URLSearchParams(fields) });
  await save('inhaltsseite', await fetch(`${siteUrl}/barriere-melden/`), 200);
  await save('formular', await fetch(`${siteUrl}${FORM_PATH}?seite=%2Ftermine%2F`), 200);
  await save('fehler', await post({ description: '', page: 'Startseite', email: 'erika@', name: 'x'.repeat(101) }), 422);
  await save('gesendet', await post({ description: 'Nu', page: '/termine/', email: 'nu@example.org' }), 200);
  await save('gesendet-ohne-adresse', await post({ description: 'Nu ohne Adresse' }), 200);
  await save('zu-gross', await post({ description: 'x'.repeat(70000) }), 413);
  const run = spawnSync('java', ['-jar', join(ROOT, 'node_modules/vnu-jar/build/dist/vnu.jar'),
    '--errors-only', dir], { encoding: 'utf8' });
  assert.equal(run.error, undefined, `could not run java: ${run.error}`);
  assert.equal(run.status, 0, run.stderr || run.stdout);
});

test('without the service the page names the address to write to', async () => {
  const plain = join(tmp, 'ohne-dienst');
  copySite(plain, (yaml) => yaml.replace(/^newsletter:\n(?:[ #].*\n|\n)*/m, ''));
  assert.doesNotMatch(readFileSync(join(plain, 'site.yaml'), 'utf8'), /subscriptions:/);
  const out = join(plain, 'public');
  const server = await serve(out);
  try {
    build(plain, out, server.url);
    const page = await newPage(browser, 375);
    assert.equal((await page.goto(server.url + '/barriere-melden/')).status(), 200);
    assert.equal(await page.locator('main form').count(), 0);
    const link = page.locator('main').getByRole('link', { name: TEAM });
    assert.equal(await link.getAttribute('href'), `mailto:${TEAM}?subject=Barrierefreiheit`);
    await assertAccessible(page, 'feedback-without-service-375');
    await page.context().close();
  } finally {
    await server.close();
  }
});
