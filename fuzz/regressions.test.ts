/**
 * Every input the fuzzers ever found (fuzz/fixtures/<target>/*.bin) still gives the typed error its
 * reader documents, within the time and memory budget.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fuzzTargets } from './targets.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'dlf-fuzz-regress-'));

describe('fuzz regressions', () => {
  for (const target of fuzzTargets()) {
    const dir = join(fixtures, target.name);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bin')) : [];
    it(`${target.name}: ${files.length} fixture(s)`, async () => {
      for (const f of files) {
        const file = join(scratch, `${f}${target.ext}`);
        copyFileSync(join(dir, f), file);
        const peak = process.resourceUsage().maxRSS * 1024;
        const t = performance.now();
        const e = await target.run(file).then(
          () => undefined,
          (x: unknown) => x,
        );
        const why = readFileSync(join(dir, f.replace(/\.bin$/, '.txt')), 'utf8').trim();
        expect(e === undefined || target.expected(e), `${target.name}/${f} (${why}): ${String(e)}`).toBe(
          true,
        );
        expect((performance.now() - t) / 1000, `${target.name}/${f}`).toBeLessThan(3);
        expect(process.resourceUsage().maxRSS * 1024 - peak, `${target.name}/${f}`).toBeLessThan(
          512 * 2 ** 20,
        );
      }
    });
  }
});
