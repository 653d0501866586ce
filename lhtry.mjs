import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';
import { serve } from './tests/browser/support.mjs';
const site = await serve('/tmp/tsite/public');
const chrome = await chromeLauncher.launch({ chromePath: '/usr/bin/chromium', chromeFlags: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
for (const p of ['/', '/suche/?q=Sprechstunde']) {
  const t = Date.now();
  const r = await lighthouse(site.url + p, { port: chrome.port, output: 'json', logLevel: 'error', onlyCategories: ['performance','accessibility','best-practices','seo'] });
  console.log(p, Date.now() - t, Object.fromEntries(Object.entries(r.lhr.categories).map(([k, v]) => [k, v.score])), r.lhr.runtimeError, r.lhr.runWarnings);
  for (const a of Object.values(r.lhr.audits)) if (a.score !== null && a.score < 1 && a.scoreDisplayMode !== 'informative') console.log('  ', a.id, a.score, a.displayValue || '');
  console.log(r.lhr.audits['network-requests'].details.items.map(i => i.url));
}
await chrome.kill(); await site.close();
