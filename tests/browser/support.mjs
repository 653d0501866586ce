// Shared set-up for the browser tests: build the bundled site with the real binary, serve it on
// 127.0.0.1 with a small static server, and drive Debian's Chromium through playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '../..');
export const ARTIFACTS = join(ROOT, 'tests/artifacts');
const BIN = process.env.OZG_SITE_BIN || join(ROOT, 'target/debug/ozg-site');

/** Builds the repository's own site at `now` into a fresh temporary folder. */
export function buildSite(now) {
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: run cargo build first`);
  const out = mkdtempSync(join(tmpdir(), 'ozg-browser-'));
  const dir = join(out, 'public');
  const run = spawnSync(BIN, ['build', '--root', ROOT, '--now', now, '--output', dir], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`build failed:\n${run.stderr}`);
  return dir;
}

const MIME = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.xml': 'application/xml; charset=utf-8',
  '.ics': 'text/calendar; charset=utf-8', '.pdf': 'application/pdf', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json', '.txt': 'text/plain; charset=utf-8',
  '.vtt': 'text/vtt; charset=utf-8', '.mp4': 'video/mp4', '.jpg': 'image/jpeg', '.webp': 'image/webp',
};

/** A request handler serving `dir` (read per request, so it may be built after listening):
 * `/x/` serves `x/index.html`, misses get `404.html`. */
export function staticFiles(dir) {
  return (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    try { if (statSync(file).isDirectory()) file = join(file, 'index.html'); } catch { /* 404 below */ }
    let status = 200;
    if (!existsSync(file)) { file = join(dir, '404.html'); status = 404; }
    res.writeHead(status, { 'content-type': MIME[extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  };
}

/** Serves `dir` on a free loopback port (see `staticFiles`). */
export async function serve(dir) {
  const server = createServer(staticFiles(dir));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

export async function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** A page that fails the test on any request leaving 127.0.0.1 (the site loads nothing from third parties).
 * `options` are added to the browser context's, e.g. `{ bypassCSP: true }` or `{ javaScriptEnabled: false }`. */
export async function newPage(browser, width = 1280, options = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'de-DE', ...options });
  const page = await context.newPage();
  const external = [];
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:') return route.continue();
    external.push(u.href);
    return route.abort();
  });
  page.externalRequests = external;
  return page;
}

const AXE = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');

/** axe-core with the WCAG 2.1 A/AA rule tags; returns readable violation lines. */
export async function axeViolations(page) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join('\n    ')}`);
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A static server for `dir` that hands the request paths in `servicePaths` to `upstream()` (a
 * function, so the service may start after the server) like nginx's `proxy_pass` with
 * `X-Forwarded-For: $proxy_add_x_forwarded_for`: the site and the service behind one address. */
export function siteWithProxy(dir, servicePaths, upstream) {
  const files = staticFiles(dir);
  return createServer((req, res) => {
    if (!servicePaths.has(new URL(req.url, 'http://x').pathname)) { files(req, res); return; }
    const headers = { ...req.headers };
    const client = req.socket.remoteAddress;
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${client}` : client;
    headers['x-forwarded-proto'] = 'http';
    const up = httpRequest(new URL(req.url, upstream()), { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${e.message}`); });
    req.pipe(up);
  });
}

/** Starts `ozg-site subscriptions serve` for `site` on a free port; resolves to
 * `{ url, process, log }` once it listens (`log()` is its stderr so far). */
export function startService(site, args) {
  const child = spawn(BIN, ['subscriptions', 'serve', '--root', site, '--port', '0', ...args]);
  let err = '';
  child.stderr.on('data', (chunk) => { err += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${err}`)), 20000);
    let printed = '';
    child.stdout.on('data', (chunk) => {
      printed += chunk;
      const m = /^Subscription service listening on (http:\/\/127\.0\.0\.1:\d+) /m.exec(printed);
      if (m) { clearTimeout(timer); resolve({ url: m[1], process: child, log: () => err }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the service exited (${code}):\n${err}`)); });
  });
}
