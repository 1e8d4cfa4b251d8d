/**
 * `pnpm fuzz`: mutation fuzzing of every registered target. Each case is written to
 * fuzz/.in-flight/<target><ext> and read from there, so a case that crashes the process is still on
 * disk afterwards (scripts/fuzz.sh keeps it as a fixture). A case that throws an unexpected error,
 * takes longer than FUZZ_CASE_SECONDS (default 3) or raises the peak memory by more than
 * FUZZ_CASE_MB (default 512) is a finding: it is saved under fuzz/fixtures/<target>/ and fails the
 * run. FUZZ_CASES cases per target (default 2000; the long mode runs 100000), FUZZ_SEED seeds them,
 * FUZZ_TARGETS=a,b limits the targets.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mutate, Rng } from './mutate.js';
import { fuzzTargets, setFuzzScratch, writeCase } from './targets.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cases = Number(process.env.FUZZ_CASES ?? 2000);
const seed = Number(process.env.FUZZ_SEED ?? 1);
const caseSeconds = Number(process.env.FUZZ_CASE_SECONDS ?? 3);
const caseBytes = Number(process.env.FUZZ_CASE_MB ?? 512) * 2 ** 20;
const only = process.env.FUZZ_TARGETS?.split(',');

const peak = (): number => process.resourceUsage().maxRSS * 1024;

describe('fuzz', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'dlf-fuzz-'));
  setFuzzScratch(scratch);
  mkdirSync(join(here, '.in-flight'), { recursive: true });
  for (const target of fuzzTargets()) {
    if (only && !only.includes(target.name)) continue;
    it(`${target.name}: ${cases} cases`, async () => {
      const seeds = await target.seeds(scratch);
      const rng = new Rng(seed * 7919 + target.name.length);
      const file = join(here, '.in-flight', `${target.name}${target.ext}`);
      const findings: string[] = [];
      const save = (bytes: Uint8Array, why: string): void => {
        const id = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
        const dir = join(here, 'fixtures', target.name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `${id}.bin`), bytes);
        writeFileSync(join(dir, `${id}.txt`), `${why}\n`);
        findings.push(`${target.name}/${id}: ${why}`);
      };
      const start = peak();
      let slowest = 0;
      for (let i = 0; i < cases && findings.length < 5; i++) {
        const s = rng.pick(seeds);
        const bytes = target.mutate ? target.mutate(s, rng, seeds) : mutate(s, rng, rng.pick(seeds));
        writeCase(file, bytes);
        const before = peak();
        const t = performance.now();
        try {
          await target.run(file);
        } catch (e) {
          if (!target.expected(e)) save(bytes, `unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
        const seconds = (performance.now() - t) / 1000;
        slowest = Math.max(slowest, seconds);
        if (seconds > caseSeconds) save(bytes, `took ${seconds.toFixed(1)} s`);
        const grown = peak() - Math.max(before, start);
        if (grown > caseBytes) save(bytes, `raised the peak memory by ${(grown / 2 ** 20).toFixed(0)} MiB`);
      }
      rmSync(file, { force: true });
      console.log(
        `${target.name}: ${cases} cases, slowest ${slowest.toFixed(2)} s, peak ${(peak() / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(findings).toEqual([]);
    });
  }
});
