import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The lint rule in biome.json: each package's sources import only its own native slice. The fixture
// mirrors the repository layout in a temporary folder and lints it with the repository's config.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const biome = join(root, 'node_modules', '.bin', 'biome');
const work = mkdtempSync(join(tmpdir(), 'dlf-slices-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function lint(file: string, source: string): { status: number | null; output: string } {
  rmSync(join(work, 'packages'), { recursive: true, force: true });
  mkdirSync(join(work, file, '..'), { recursive: true });
  copyFileSync(join(root, 'biome.json'), join(work, 'biome.json'));
  writeFileSync(join(work, file), source);
  const r = spawnSync(biome, ['lint', '--max-diagnostics=5', file], { cwd: work, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('native slice boundaries', () => {
  it('biome is installed', () => {
    expect(execFileSync(biome, ['--version'], { encoding: 'utf8' })).toMatch(/\d+\.\d+/);
  });

  it('rejects a package importing another package’s slice', () => {
    const r = lint(
      'packages/nn/src/cross.ts',
      "import { loss } from '@dlf/native/loss';\n\nexport const f = loss;\n",
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/noRestrictedImports/);
    expect(r.output).toMatch(/@dlf\/native\/loss/);
  });

  it('rejects any slice from a package that wraps none', () => {
    const r = lint(
      'packages/data/src/x.ts',
      "import { tensor } from '@dlf/native/tensor';\n\nexport const f = tensor;\n",
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/noRestrictedImports/);
  });

  it('accepts a package importing its own slices', () => {
    expect(
      lint('packages/nn/src/own.ts', "import { nn } from '@dlf/native/nn';\n\nexport const f = nn;\n").status,
    ).toBe(0);
    const both =
      "import { math } from '@dlf/native/math';\nimport { tensor } from '@dlf/native/tensor';\n\nexport const f = [math, tensor];\n";
    expect(lint('packages/tensor-core/src/own.ts', both).status).toBe(0);
  });
});
