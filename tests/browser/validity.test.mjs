// The Nu HTML checker (vnu.jar) finds zero errors in every generated HTML file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildSite, ROOT } from './support.mjs';

for (const now of ['2025-12-05T13:00:00+01:00', '2026-11-23T10:00:00+01:00']) {
  test(`every HTML file is valid (built at ${now})`, () => {
    const dir = buildSite(now);
    // The redirect pages of old addresses are checked like every other page.
    assert.ok(existsSync(join(dir, 'grundlagen/zsa-machbarkeitsstudie/index.html')), 'redirect page built');
    const run = spawnSync('java', ['-jar', join(ROOT, 'node_modules/vnu-jar/build/dist/vnu.jar'),
      '--errors-only', '--skip-non-html', dir], { encoding: 'utf8' });
    assert.equal(run.error, undefined, `could not run java: ${run.error}`);
    assert.equal(run.status, 0, run.stderr || run.stdout);
  });
}
