// Newsletter sign-up with double opt-in, as readers meet it: the static site and
// `ozg-site subscriptions serve` behind one address, the way nginx puts them together (the three
// service paths go to the service, everything else is the built site). A reader signs up from the
// home page or the archive, confirms with the link from the mail in the outbox and the button on
// its page, and unsubscribes with one click; every page is accessible, valid HTML and styled by the site's stylesheet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, staticFiles, launch, newPage, axeViolations, screenshot } from './support.mjs';

const BIN = process.env.OZG_SITE_BIN || join(ROOT, 'target/debug/ozg-site');
const NOW = '2025-12-05T13:00:00+01:00';
/** What the reverse proxy passes to the service (exact paths, any query string). */
const SERVICE_PATHS = new Set(['/newsletter/anmelden', '/newsletter/bestaetigen', '/newsletter/abmelden']);

let browser;
let tmp;
let site; // the copy of the repository's site the service reads
let db;
let siteUrl; // the one address readers see: http://127.0.0.1:PORT
let proxy;
let service;
let serviceUrl;
let serviceErr = '';

/** A static server for `dir` that hands the service's paths to `upstream()` like nginx's
 * `proxy_pass` with `X-Forwarded-For: $proxy_add_x_forwarded_for`. */
function siteWithProxy(dir, upstream) {
  const files = staticFiles(dir);
  return createServer((req, res) => {
    if (!SERVICE_PATHS.has(new URL(req.url, 'http://x').pathname)) { files(req, res); return; }
    const headers = { ...req.headers };
    const client = req.socket.remoteAddress;
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${client}` : client;
    headers['x-forwarded-proto'] = 'http';
    const target = new URL(req.url, upstream());
    const up = httpRequest(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${e.message}`); });
    req.pipe(up);
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ozg-subscriptions-'));
  site = join(tmp, 'site');
  for (const part of ['site.yaml', 'content', 'themes', 'static', 'newsletters']) {
    cpSync(join(ROOT, part), join(site, part), { recursive: true });
  }
  db = join(tmp, 'db.sqlite');
  const out = join(tmp, 'public');

  // The port is part of every link, so listen first, then build with it.
  proxy = siteWithProxy(out, () => serviceUrl);
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  siteUrl = `http://127.0.0.1:${proxy.address().port}`;
  const build = spawnSync(BIN, ['build', '--root', site, '--output', out, '--base-url', siteUrl, '--now', NOW],
    { encoding: 'utf8' });
  assert.equal(build.status, 0, `build failed:\n${build.stderr}`);

  service = spawn(BIN, ['subscriptions', 'serve', '--root', site, '--port', '0', '--db', db, '--base-url', siteUrl]);
  service.stderr.on('data', (chunk) => { serviceErr += chunk; });
  serviceUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${serviceErr}`)), 20000);
    let printed = '';
    service.stdout.on('data', (chunk) => {
      printed += chunk;
      const m = /^Subscription service listening on (http:\/\/127\.0\.0\.1:\d+) /m.exec(printed);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    service.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the service exited (${code}):\n${serviceErr}`)); });
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (proxy ? proxy.close(ok) : ok()));
  if (!service) return;
  const early = service.exitCode !== null || service.signalCode !== null;
  if (!early) {
    const exited = new Promise((ok) => service.once('exit', ok));
    service.kill('SIGTERM');
    await exited;
  }
  assert.ok(!early, `the service exited early (${service.exitCode ?? service.signalCode}):\n${serviceErr}`);
  rmSync(tmp, { recursive: true, force: true }); // kept when the service died, for a look at its database
});

let addresses = 0;
/** An address no test used before. */
const freshAddress = (what) => `${what}-${++addresses}@example.org`;

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

/** The confirmation link of the mail to `email` in the outbox, waiting up to 10 s for it. */
async function confirmationLink(email) {
  const outbox = join(site, '.ozg-site/outbox/anmeldungen');
  const deadline = Date.now() + 10000;
  for (;;) {
    const names = existsSync(outbox) ? readdirSync(outbox).filter((n) => /^anmeldung-\d+\.eml$/.test(n)) : [];
    for (const name of names) {
      const raw = readFileSync(join(outbox, name), 'utf8');
      const split = raw.search(/\r?\n\r?\n/);
      const head = raw.slice(0, split);
      if (!new RegExp(`^To: <?${email.replace(/[.+]/g, '\\$&')}>?\\r?$`, 'mi').test(head)) continue;
      assert.match(head, /^Content-Transfer-Encoding: quoted-printable/mi, `${name}:\n${head}`);
      const body = decodeQuotedPrintable(raw.slice(split));
      const link = new RegExp(`${siteUrl}/newsletter/bestaetigen\\?token=[0-9a-f]{32}(?![0-9a-f])`).exec(body);
      assert.ok(link, `${name} has no confirmation link to ${siteUrl}:\n${body}`);
      return link[0];
    }
    assert.ok(Date.now() < deadline, `no mail to ${email} in ${outbox} after 10 s (${names.join(', ')})\n${serviceErr}`);
    await sleep(100);
  }
}

/** `ozg-site subscribers show` for one address, as printed (tab-separated lines). */
function subscriber(email) {
  const run = spawnSync(BIN, ['subscribers', 'show', email, '--root', site, '--db', db], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

/** The unsubscribe token of an address, from the link `subscribers show` prints (the database keeps
 *  only its hash): the link of every edition carries it. */
function unsubscribeToken(email) {
  const line = subscriber(email).split('\n').find((l) => l.startsWith('unsubscribe_link\t'));
  assert.ok(line, `no unsubscribe link for ${email}`);
  return new URL(line.split('\t')[1]).searchParams.get('token');
}

/** Posts a form through the site's address, as a script without a browser would. */
const post = (path, fields) => fetch(siteUrl + path, {
  method: 'POST', body: new URLSearchParams(fields), redirect: 'manual',
});

/** The token of a confirmation link. */
const tokenOf = (link) => new URL(link).searchParams.get('token');

/** The lists of the repository's site.yaml, as their checkboxes are labelled. */
const NEWSLETTER = 'Newsletter „OZG SachsenAnhaltsPunkte“';
const SPRECHSTUNDEN = 'Einladungen zu den OZG-Sprechstunden';

/** Signs `email` up for `lists` and confirms it without a browser: the link's page, then its button. */
async function subscribed(email, lists = ['newsletter']) {
  const ticked = Object.fromEntries(lists.map((id) => [`list-${id}`, 'ja']));
  assert.equal((await post('/newsletter/anmelden', { email, ...ticked })).status, 200);
  const link = await confirmationLink(email);
  assert.equal((await fetch(link)).status, 200);
  assert.equal((await post('/newsletter/bestaetigen', { token: tokenOf(link) })).status, 200);
  assert.match(subscriber(email), /^status\tactive$/m);
}

/** Everything a service page must be: served at the site's address, styled by the site's
 * stylesheet, nothing from elsewhere. */
async function assertSitePage(page, response, status, heading) {
  assert.equal(response.status(), status, `${response.url()}: HTTP ${response.status()}`);
  assert.equal(new URL(page.url()).origin, siteUrl, page.url());
  assert.equal(await page.getAttribute('html', 'lang'), 'de');
  assert.match((await page.locator('h1').textContent()).trim(), heading);
  const css = await page.evaluate(() => [...document.styleSheets]
    .filter((s) => s.href && new URL(s.href).pathname === '/css/site.css')
    .map((s) => ({ href: s.href, rules: s.cssRules.length })));
  assert.equal(css.length, 1, 'site.css is linked once');
  assert.equal(new URL(css[0].href).origin, siteUrl, css[0].href);
  assert.ok(css[0].rules > 10, `site.css loaded with ${css[0].rules} rules`);
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).fontFamily), 'Times New Roman',
    'the body has the site font, not the browser default');
  assert.deepEqual(page.externalRequests, []);
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

const SENT = /^Fast geschafft: Bitte bestätigen Sie Ihre Anmeldung$/;
const CONFIRM = /^Anmeldung bestätigen$/;
const CONFIRMED = /^Anmeldung bestätigt$/;

for (const width of [375, 1280]) {
  test(`at ${width}px a reader signs up on the home page, confirms with the button on the link's page, and a second click on the link is refused`, async () => {
    const email = freshAddress(`start-${width}`);
    const page = await newPage(browser, width, { bypassCSP: true });
    await page.goto(siteUrl + '/');
    const box = page.locator('.home-box--newsletter');
    await box.getByLabel('E-Mail-Adresse').fill(email);
    await box.getByLabel('Name (freiwillig)').fill('Erika Mustermann');
    await box.getByLabel(NEWSLETTER).check();
    const sent = await submits(page, () => box.getByRole('button', { name: 'Abonnieren' }).click());
    assert.equal(new URL(page.url()).pathname, '/newsletter/anmelden');
    await assertSitePage(page, sent, 200, SENT);
    await assertAccessible(page, `signup-sent-${width}`);
    assert.match(subscriber(email), /^status\tpending$/m);

    const link = await confirmationLink(email);
    const asked = await page.goto(link);
    await assertSitePage(page, asked, 200, CONFIRM);
    assert.match(await page.locator('main').textContent(), new RegExp(email.replace(/\./g, '\\.')));
    await assertAccessible(page, `signup-confirm-${width}`);
    assert.match(subscriber(email), /^status\tpending$/m, 'opening the link alone confirms nothing');
    const confirmed = await submits(page, () => page.getByRole('button', { name: 'Anmeldung bestätigen' }).click());
    assert.equal(new URL(page.url()).pathname, '/newsletter/bestaetigen');
    await assertSitePage(page, confirmed, 200, CONFIRMED);
    assert.match(await page.locator('main').textContent(), new RegExp(email.replace(/\./g, '\\.')));
    await assertAccessible(page, `signup-confirmed-${width}`);
    const stored = subscriber(email);
    assert.match(stored, /^status\tactive$/m, stored);
    assert.match(stored, /^source\tform$/m, stored);
    assert.match(stored, /^name\tErika Mustermann$/m, stored);

    const again = await page.goto(link);
    await assertSitePage(page, again, 410, /^Dieser Bestätigungslink wurde schon verwendet$/);
    assert.match(await page.locator('main').textContent(), /Sie sind angemeldet/);
    await assertAccessible(page, `signup-link-used-${width}`);
    await page.context().close();
  });
}

test('the sign-up works with the keyboard alone (and under the service\'s Content-Security-Policy)', async () => {
  const email = freshAddress('tastatur');
  const page = await newPage(browser, 1280);
  const blocked = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()); });
  await page.goto(siteUrl + '/');
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return el?.id || `${el?.tagName.toLowerCase()}:${el?.textContent.trim()}`;
  });
  /** Presses Tab until `target` has the focus; fails after `limit` presses. */
  const tabTo = async (target, limit) => {
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press('Tab');
      if (await focused() === target) return;
    }
    assert.fail(`${target} not reached with ${limit} presses of Tab (focus on ${await focused()})`);
  };
  await tabTo('newsletter-anmeldung-email', 200);
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'newsletter-anmeldung-name');
  await page.keyboard.type('Max Mustermann');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'newsletter-anmeldung-liste-newsletter', 'the first list follows the name');
  await page.keyboard.press('Space');
  await tabTo('button:Abonnieren', 5);
  const sent = await submits(page, () => page.keyboard.press('Enter'));
  await assertSitePage(page, sent, 200, SENT);
  assert.deepEqual(blocked, [], 'the service\'s pages load the site\'s files under its CSP');
  await confirmationLink(email);
  await page.context().close();
});

test('an invalid address from the archive page comes back with an error summary linking to the field; corrected, it is sent', async () => {
  const page = await newPage(browser, 375, { bypassCSP: true });
  await page.goto(siteUrl + '/newsletter/');
  const form = page.locator('main form.signup-form');
  await form.getByLabel('E-Mail-Adresse').fill('erika@');
  await form.getByLabel(NEWSLETTER).check();
  const refused = await submits(page, () => form.getByRole('button', { name: 'Abonnieren' }).click());
  await assertSitePage(page, refused, 422, /^Newsletter abonnieren$/);
  assert.match(await page.title(), /^Fehler: /);

  const summary = page.getByRole('alert');
  assert.equal(await summary.count(), 1);
  // The summary takes the focus (autofocus), so a screen reader reads it first.
  await page.waitForFunction(() => document.activeElement?.classList.contains('error-summary'), null, { timeout: 5000 });
  const field = page.getByLabel('E-Mail-Adresse');
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  assert.equal(await field.inputValue(), 'erika@');
  const fieldId = await field.getAttribute('id');
  const toField = summary.getByRole('link');
  assert.equal(await toField.count(), 1);
  assert.equal(await toField.getAttribute('href'), `#${fieldId}`);
  assert.match(await toField.textContent(), /name@beispiel\.de/);
  const described = await field.getAttribute('aria-describedby');
  assert.match(await page.locator(`#${described}`).textContent(), /Fehler: .*unvollständig/);
  await assertAccessible(page, 'signup-error-375');
  await toField.click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), fieldId, 'the link in the summary leads into the field');

  await field.fill(freshAddress('archiv'));
  assert.ok(await page.getByLabel(NEWSLETTER).isChecked(), 'the list ticked before stays ticked');
  const sent = await submits(page, () => page.getByRole('button', { name: 'Abonnieren' }).click());
  await assertSitePage(page, sent, 200, SENT);
  await page.context().close();
});

test('a subscriber unsubscribes with the link of an edition and one click', async () => {
  const email = freshAddress('abmelden');
  await subscribed(email);
  const page = await newPage(browser, 1280, { bypassCSP: true });
  const asked = await page.goto(`${siteUrl}/newsletter/abmelden?token=${unsubscribeToken(email)}`);
  await assertSitePage(page, asked, 200, /^Newsletter abbestellen$/);
  assert.match(subscriber(email), /^status\tactive$/m, 'opening the link alone changes nothing');
  await assertAccessible(page, 'unsubscribe-1280');
  const done = await submits(page, () => page.getByRole('button', { name: 'Newsletter abbestellen' }).click());
  await assertSitePage(page, done, 200, /^Sie wurden abgemeldet$/);
  await assertAccessible(page, 'unsubscribed-1280');
  const stored = subscriber(email);
  assert.match(stored, /^status\tunsubscribed$/m, stored);
  assert.match(stored, /^unsubscribed_via\tlink$/m, stored);
  await page.context().close();
});

test('the lists: none ticked comes back with a summary linking to the first box; both ticked, one link confirms both', async () => {
  const email = freshAddress('listen');
  const page = await newPage(browser, 375, { bypassCSP: true });
  await page.goto(siteUrl + '/');
  const box = page.locator('.home-box--newsletter');
  await assertAccessible(page, 'signup-lists-375');
  const group = box.getByRole('group', { name: 'Was möchten Sie erhalten?' });
  assert.equal(await group.getByRole('checkbox').count(), 2);
  for (const name of [NEWSLETTER, SPRECHSTUNDEN]) {
    const checkbox = box.getByLabel(name);
    assert.equal(await checkbox.isChecked(), false, 'nothing is ticked in advance');
    // Each box is described by its own consent, read out with it.
    const consent = page.locator(`#${await checkbox.getAttribute('aria-describedby')}`);
    assert.match(await consent.textContent(), /^Ich möchte /);
  }
  await box.getByLabel('E-Mail-Adresse').fill(email);
  const refused = await submits(page, () => box.getByRole('button', { name: 'Abonnieren' }).click());
  await assertSitePage(page, refused, 422, /^Newsletter abonnieren$/);
  const toBox = page.getByRole('alert').getByRole('link');
  assert.equal(await toBox.count(), 1);
  assert.match(await toBox.textContent(), /mindestens eine Liste/);
  assert.equal(await toBox.getAttribute('href'), '#newsletter-anmeldung-liste-newsletter');
  await assertAccessible(page, 'signup-lists-error-375');
  await toBox.click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'newsletter-anmeldung-liste-newsletter');
  assert.equal(await page.getByLabel('E-Mail-Adresse').inputValue(), email, 'what was typed stays');
  await page.getByLabel(NEWSLETTER).check();
  await page.getByLabel(SPRECHSTUNDEN).check();
  const sent = await submits(page, () => page.getByRole('button', { name: 'Abonnieren' }).click());
  await assertSitePage(page, sent, 200, SENT);
  const link = await confirmationLink(email);
  assert.equal((await post('/newsletter/bestaetigen', { token: tokenOf(link) })).status, 200);
  const stored = subscriber(email);
  assert.match(stored, /^list\.newsletter\.status\tactive$/m, stored);
  assert.match(stored, /^list\.sprechstunden\.status\tactive$/m, stored);

  // The unsubscribe page offers one list or all.
  const asked = await page.goto(`${siteUrl}/newsletter/abmelden?token=${unsubscribeToken(email)}&list=sprechstunden`);
  await assertSitePage(page, asked, 200, /^Newsletter abbestellen$/);
  await assertAccessible(page, 'unsubscribe-lists-375');
  const done = await submits(page, () => page.getByRole('button', { name: `Nur „${SPRECHSTUNDEN}“ abbestellen` }).click());
  await assertSitePage(page, done, 200, /^Sie wurden abgemeldet$/);
  const after = subscriber(email);
  assert.match(after, /^status\tactive$/m, after);
  assert.match(after, /^list\.sprechstunden\.status\tunsubscribed$/m, after);
  assert.match(after, /^list\.newsletter\.status\tactive$/m, after);
  await page.context().close();
});

test('the home page form works without JavaScript', async () => {
  const email = freshAddress('ohne-js');
  const page = await newPage(browser, 375, { javaScriptEnabled: false });
  await page.goto(siteUrl + '/');
  const box = page.locator('.home-box--newsletter');
  await box.getByLabel('E-Mail-Adresse').fill(email);
  await box.getByLabel(NEWSLETTER).check();
  const sent = await submits(page, () => box.getByRole('button', { name: 'Abonnieren' }).click());
  assert.equal(sent.status(), 200);
  assert.equal(new URL(page.url()).origin, siteUrl);
  assert.match((await page.locator('h1').textContent()).trim(), SENT);
  assert.deepEqual(page.externalRequests, []);
  await confirmationLink(email);
  await page.context().close();
});

test('every page of the service is valid HTML (Nu checker)', async () => {
  const dir = join(tmp, 'nu');
  mkdirSync(dir);
  const save = async (name, response, status) => {
    assert.equal(response.status, status, `${name}: HTTP ${response.status}`);
    writeFileSync(join(dir, `${name}.html`), await response.text());
  };
  const email = freshAddress('nu');
  await save('formular', await fetch(`${siteUrl}/newsletter/anmelden`), 200);
  await save('gesendet', await post('/newsletter/anmelden', { email, name: 'Nu', 'list-newsletter': 'ja', 'list-sprechstunden': 'ja' }), 200);
  await save('fehler', await post('/newsletter/anmelden', { email: 'erika@', name: 'x'.repeat(101) }), 422);
  await save('fehler-mit-liste', await post('/newsletter/anmelden', { email: 'erika@', 'list-sprechstunden': 'ja' }), 422);
  const link = await confirmationLink(email);
  await save('bestaetigen', await fetch(link), 200);
  await save('bestaetigt', await post('/newsletter/bestaetigen', { token: tokenOf(link) }), 200);
  await save('schon-bestaetigt', await fetch(link), 410);
  await save('zu-langsam-oder-falsch', await post('/newsletter/bestaetigen', { token: 'abc' }), 400);
  const token = unsubscribeToken(email);
  await save('abbestellen', await fetch(`${siteUrl}/newsletter/abmelden?token=${token}`), 200);
  await save('abbestellen-eine-liste', await fetch(`${siteUrl}/newsletter/abmelden?token=${token}&list=sprechstunden`), 200);
  await save('abgemeldet', await post('/newsletter/abmelden', { token }), 200);
  const run = spawnSync('java', ['-jar', join(ROOT, 'node_modules/vnu-jar/build/dist/vnu.jar'),
    '--errors-only', dir], { encoding: 'utf8' });
  assert.equal(run.error, undefined, `could not run java: ${run.error}`);
  assert.equal(run.status, 0, run.stderr || run.stdout);
});
