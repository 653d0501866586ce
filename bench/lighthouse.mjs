#!/usr/bin/env node
// Lighthouse (performance, accessibility, best practices, SEO) on the bundled site served from
// 127.0.0.1: home, a Sprechstunde, the search with results and a topic page. Issue 18 asks for at least 95 in every category; anything lower exits 1 with the audits
// that cost the points. Run by scripts/test.sh as a step of its own, after the browser tests, so the
// performance runs do not compete with other Chromiums for the CPU.
//
//   node bench/lighthouse.mjs            (needs target/debug/ozg-site: cargo build)
//
// Lighthouse's default simulated throttling (a mid-range phone on slow 4G, computed from the trace)
// keeps performance comparable on a noisy machine; a page below 95 is run up to twice more and the
// best score per category counts. Every score is printed. Reports (JSON and HTML) land in
// tests/artifacts/lighthouse/.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';
import { ARTIFACTS, buildSite, serve } from '../tests/browser/support.mjs';
import { discoverPageTypes } from '../tests/browser/pages.mjs';

const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
const MINIMUM = 95;
const RUNS = 3;
const OUT = join(ARTIFACTS, 'lighthouse');

process.env.CHROME_PATH ||= '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // Belt and braces for "loads nothing from third parties": a name other than 127.0.0.1 does not
  // resolve, so a stray request fails in the browser and shows up in the network check below.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];

const dir = buildSite('2025-12-05T13:00:00+01:00');
const types = discoverPageTypes({ advent: dir });
const pathOf = (type) => types.find((t) => t.type === type)?.path;
const PAGES = [
  ['home', '/'],
  ['sprechstunde', pathOf('sprechstunde')],
  // With a query: the results arrive after the index has loaded, the case where the layout can shift.
  ['suche', '/suche/?q=Sprechstunde'],
  ['thema', pathOf('thema')],
];

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const site = await serve(dir);
const chrome = await chromeLauncher.launch({ chromePath: process.env.CHROME_PATH, chromeFlags: FLAGS, logLevel: 'error' });

const problems = [];
const rows = [];
try {
  for (const [name, path] of PAGES) {
    if (!path) { problems.push(`${name}: no such page in the build`); continue; }
    const url = site.url + path;
    const best = Object.fromEntries(CATEGORIES.map((c) => [c, -1]));
    const runs = [];
    let bestLhr;
    for (let run = 1; run <= RUNS; run++) {
      const result = await lighthouse(url, { port: chrome.port, output: ['json', 'html'], logLevel: 'error', onlyCategories: CATEGORIES });
      if (!result) { problems.push(`${name} ${url}: Lighthouse returned nothing`); break; }
      const { lhr, report } = result;
      writeFileSync(join(OUT, `${name}-${run}.report.json`), report[0]);
      writeFileSync(join(OUT, `${name}-${run}.report.html`), report[1]);
      if (lhr.runtimeError) { problems.push(`${name} ${url} run ${run}: ${lhr.runtimeError.code}: ${lhr.runtimeError.message}`); break; }
      // Everything the page loaded, from the trace: only the loopback server may appear.
      const requests = lhr.audits['network-requests']?.details?.items?.map((i) => i.url) ?? [];
      if (requests.length === 0) problems.push(`${name} ${url} run ${run}: no network requests recorded, cannot check for third parties`);
      for (const u of requests) {
        const { protocol, hostname } = new URL(u);
        if (!(protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1')) problems.push(`${name} ${url} run ${run}: request to ${u} (only 127.0.0.1 is allowed)`);
      }
      const scores = Object.fromEntries(CATEGORIES.map((c) => [c, Math.round((lhr.categories[c]?.score ?? 0) * 100)]));
      runs.push(scores);
      console.log(`${name} ${path} run ${run}: ${CATEGORIES.map((c) => `${c} ${scores[c]}`).join(', ')}`);
      for (const c of CATEGORIES) if (scores[c] > best[c]) { best[c] = scores[c]; if (c === 'performance') bestLhr = lhr; }
      bestLhr ??= lhr;
      if (CATEGORIES.every((c) => best[c] >= MINIMUM)) break;
    }
    rows.push({ name, path, runs, best });
    for (const c of CATEGORIES) {
      if (best[c] >= MINIMUM) continue;
      // Name what cost the points: the category's audits that did not pass, heaviest first.
      const lost = (bestLhr?.categories[c]?.auditRefs ?? [])
        .filter((r) => r.weight > 0 && (bestLhr.audits[r.id]?.score ?? 1) < 1)
        .sort((a, b) => b.weight - a.weight)
        .map((r) => `      ${r.id} (weight ${r.weight}): score ${bestLhr.audits[r.id].score}${bestLhr.audits[r.id].displayValue ? `, ${bestLhr.audits[r.id].displayValue}` : ''}`);
      problems.push(`${name} ${path}: ${c} ${best[c]} < ${MINIMUM} (best of ${runs.length} runs: ${runs.map((r) => r[c]).join(', ')})${lost.length ? `\n${lost.join('\n')}` : ''}`);
    }
  }
} finally {
  await chrome.kill();
  await site.close();
}

const width = Math.max(...rows.map((r) => `${r.name} ${r.path}`.length), 4);
console.log(`\n${'page'.padEnd(width)}  ${CATEGORIES.map((c) => c.padStart(16)).join('')}  runs`);
for (const r of rows) {
  console.log(`${`${r.name} ${r.path}`.padEnd(width)}  ${CATEGORIES.map((c) => String(r.best[c]).padStart(16)).join('')}  ${r.runs.length}`);
}
console.log(`reports: ${OUT}`);
if (problems.length) {
  console.error(`\nLIGHTHOUSE FAILED (every category must be at least ${MINIMUM}):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`\nLighthouse: every category at least ${MINIMUM} on ${rows.length} pages`);
