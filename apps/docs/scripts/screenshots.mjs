#!/usr/bin/env node
/**
 * Screenshots of the docs site and a training report, taken with headless Chromium, to look at
 * before a release: the landing page, one guide, one API page and report.html.
 *
 *   node apps/docs/scripts/screenshots.mjs [--site apps/docs/site] [--report runs/x/report.html]
 *     [--out dir] [--height 900]
 *
 * Without --report it trains seed-cnn for one epoch on the bundled MNIST to get one. Needs
 * `chromium` on PATH (apt-get install chromium) and a built site (pnpm run docs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const here = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    site: { type: 'string', default: join(here, 'site') },
    report: { type: 'string' },
    out: { type: 'string', default: join(here, 'screenshots') },
    height: { type: 'string', default: '900' },
  },
});
const site = resolve(values.site);
const out = resolve(values.out);
mkdirSync(out, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'dlf-shots-'));

let report = values.report;
if (!report) {
  const bin = join(here, '../../packages/cli/dist/bin.js');
  const run = join(scratch, 'run');
  execFileSync(process.execPath, [bin, 'train', 'mnist', '--epochs', '1', '--out', run, '--quiet'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  report = join(run, 'report.html');
}

const pages = [
  ['landing', join(site, 'index.html')],
  ['guide', join(site, 'documents', 'Train_on_your_own_images.html')],
  ['api', join(site, 'classes', '_dlf_nn.Conv2d.html')],
  ['report', resolve(report)],
];
for (const [name, file] of pages) {
  if (!existsSync(file)) throw new Error(`${file} does not exist; build the site first (pnpm run docs)`);
  const png = join(out, `${name}.png`);
  execFileSync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${join(scratch, 'profile')}`,
      '--hide-scrollbars',
      // typedoc pages stay hidden until their script has run (up to 500 ms): let timers run first.
      '--virtual-time-budget=5000',
      `--screenshot=${png}`,
      `--window-size=1280,${values.height}`,
      pathToFileURL(file).href,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  console.log(png);
}
rmSync(scratch, { recursive: true, force: true });
