/**
 * The doc test: every ```ts / ```js block of the guides, the landing page and the README runs, as
 * written, against the built packages, in a folder that holds a small image folder (`photos/`).
 * Build first (pnpm run build).
 */
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, makeShapes, tempDir } from '../../../packages/train/test/helpers.js';
import { extractSnippets, toJavaScript, typeErrors } from './snippets.js';

const docs = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
/** Programs live inside apps/docs so that `@dlf/*` resolves to the built packages. */
const programs = join(docs, '.snippets');
/** Per program: the budget of a small example on a busy 2-core machine. */
const BUDGET_MS = 90_000;

const files: [string, string][] = [
  ...readdirSync(join(docs, 'guides'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f): [string, string] => [join(docs, 'guides', f), `guides/${f}`]),
  [join(docs, 'landing.md'), 'landing.md'],
  [join(root, 'README.md'), 'README.md'],
];

let work: string;
beforeAll(async () => {
  expect(existsSync(join(root, 'packages/train/dist/index.js')), 'build first: pnpm run build').toBe(true);
  work = tempDir('dlf-doc-');
  // photos/<class>/*.png: the "your own image folder" of the guides.
  const shapes = await makeShapes(join(work, '.shapes'), { train: 24, test: 6 });
  for (const split of ['train', 'test']) {
    for (const cls of readdirSync(join(shapes, split))) {
      mkdirSync(join(work, 'photos', cls), { recursive: true });
      for (const f of readdirSync(join(shapes, split, cls)))
        copyFileSync(join(shapes, split, cls, f), join(work, 'photos', cls, `${split}-${f}`));
    }
  }
  rmSync(programs, { recursive: true, force: true });
  mkdirSync(programs, { recursive: true });
}, 120_000);
afterAll(() => {
  cleanup(work);
  rmSync(programs, { recursive: true, force: true });
});

function run(file: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd,
      env: { ...process.env, DLF_CACHE_DIR: join(cwd, '.cache'), DLF_NUM_THREADS: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BUDGET_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the code blocks of the docs run as written', () => {
  it('every guide has runnable blocks', () => {
    for (const [file, label] of files) {
      if (label.startsWith('guides/')) expect(extractSnippets(file, label).length, label).toBeGreaterThan(0);
    }
  });

  it('every TypeScript block type-checks against the built packages', () => {
    const checked: string[] = [];
    const names = new Map<string, string>();
    for (const [file, label] of files) {
      for (const [i, snippet] of extractSnippets(file, label).entries()) {
        if (snippet.lang !== 'ts') continue;
        const path = join(programs, `${label.replace(/[^\w]+/g, '-')}-${i}.check.mts`);
        // Each file is a module, so the blocks' top-level names do not clash.
        writeFileSync(path, `${snippet.code}\nexport {};\n`);
        checked.push(path);
        names.set(path.replace(/^.*[\\/]/, ''), snippet.name);
      }
    }
    expect(checked.length).toBeGreaterThan(15);
    const errors = typeErrors(checked, [join(root, 'node_modules/@types')]).map((e) => {
      const [file, ...rest] = e.split(':');
      return `${names.get(file!) ?? file}:${rest.join(':')}`;
    });
    expect(errors).toEqual([]);
  }, 120_000);

  for (const [file, label] of files) {
    const snippets = extractSnippets(file, label);
    for (const [i, snippet] of snippets.entries()) {
      it(
        snippet.name,
        async () => {
          const name = `${label.replace(/[^\w]+/g, '-')}-${i}.mjs`;
          writeFileSync(join(programs, name), toJavaScript(snippet));
          // Each program starts from the same folder, with photos/ and what earlier ones wrote.
          const r = await run(join(programs, name), work);
          // DOC_SNIPPETS_LOG=file keeps what each program printed, to compare with the comments.
          if (process.env.DOC_SNIPPETS_LOG)
            appendFileSync(process.env.DOC_SNIPPETS_LOG, `## ${snippet.name}\n${r.output}\n`);
          expect(r.code, `${snippet.name} failed:\n${r.output}`).toBe(0);
        },
        BUDGET_MS + 10_000,
      );
    }
  }
});
