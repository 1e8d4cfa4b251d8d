/**
 * The API site as a reader meets it: built with typedoc, then crawled. No broken link or anchor,
 * module titles are package names, the guides render without stray front matter, and every public
 * class member is documented. Build the packages first (pnpm run build).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from '../../../packages/train/test/helpers.js';
import { undocumentedMembers } from './api-coverage.js';

const docs = fileURLToPath(new URL('..', import.meta.url));
let out: string;
let site: string;
let log: string;

function htmlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return htmlFiles(p);
    return name.endsWith('.html') ? [p] : [];
  });
}

beforeAll(() => {
  out = tempDir('dlf-site-');
  site = join(out, 'site');
  const typedoc = join(docs, 'node_modules/typedoc/bin/typedoc');
  const r = spawnSync(
    process.execPath,
    [typedoc, '--options', 'typedoc.json', '--out', site, '--json', join(out, 'api.json')],
    { cwd: docs, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  log = `${r.stdout}${r.stderr}`;
  expect(r.status, log).toBe(0);
}, 300_000);
afterAll(() => cleanup(out));

describe('the docs site', () => {
  it('builds without a warning', () => {
    expect(log).not.toMatch(/\[warning\]|\[error\]/);
  });

  it('has no broken link or anchor', () => {
    const pages = htmlFiles(site);
    expect(pages.length).toBeGreaterThan(50);
    const ids = new Map<string, Set<string>>();
    const idsOf = (file: string): Set<string> => {
      let set = ids.get(file);
      if (!set) {
        set = new Set([...readFileSync(file, 'utf8').matchAll(/\s(?:id|name)="([^"]+)"/g)].map((m) => m[1]!));
        ids.set(file, set);
      }
      return set;
    };
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages) {
      const html = readFileSync(page, 'utf8');
      for (const m of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
        const link = m[1]!.replace(/&amp;/g, '&');
        if (/^(https?:|mailto:|data:|javascript:)/.test(link) || link === '') continue;
        const [path, fragment] = link.split('#') as [string, string | undefined];
        const target = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
        const where = `${relative(site, page)} → ${link}`;
        checked++;
        if (!existsSync(target)) broken.push(where);
        else if (fragment && target.endsWith('.html') && !idsOf(target).has(decodeURIComponent(fragment)))
          broken.push(`${where} (no such anchor)`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(5000);
  });

  it('titles each module with its package name', () => {
    const modules = readFileSync(join(site, 'modules.html'), 'utf8');
    for (const pkg of ['tensor-core', 'autograd', 'nn', 'loss', 'optim', 'data', 'train', 'cli', 'native'])
      expect(modules).toContain(`@dlf/${pkg}`);
    expect(modules).not.toMatch(/\w+\/src/);
  });

  it('has a landing page with the speed table and the guides without stray front matter', () => {
    const index = readFileSync(join(site, 'index.html'), 'utf8');
    expect(index).toContain('deep learning for Node.js');
    expect(index).toMatch(/dlf \/ best PyTorch/);
    const guides = readdirSync(join(site, 'documents'));
    expect(guides.length).toBeGreaterThanOrEqual(8);
    for (const g of guides) {
      const html = readFileSync(join(site, 'documents', g), 'utf8');
      expect(html, g).not.toMatch(/>title:|<h2[^>]*>title:/);
    }
  });

  it('documents every public class member', () => {
    const api = JSON.parse(readFileSync(join(out, 'api.json'), 'utf8'));
    const { missing, total } = undocumentedMembers(api);
    expect(total).toBeGreaterThan(300);
    expect(missing).toEqual([]);
  });
});
