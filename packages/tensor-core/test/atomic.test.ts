import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceDirAtomic, writeFileAtomic, writeFileAtomicSync } from '@dlf/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'dlf-atomic-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let folders = 0;
/** A new empty folder for one test. */
function fresh(): string {
  const d = join(root, `t${folders++}`);
  mkdirSync(d);
  return d;
}

const temps = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.tmp-'));
/** The temporary name of a writer of `name` in this process. */
const tempName = (name: string) =>
  new RegExp(`^\\.tmp-${name.replace('.', '\\.')}-${process.pid}-[0-9a-f]{12}$`);

const bytes = (...values: number[]) => Uint8Array.from(values);

/** The two forms, so every behaviour is checked for both. */
const writers = [
  ['writeFileAtomic', writeFileAtomic],
  ['writeFileAtomicSync', async (...a: Parameters<typeof writeFileAtomicSync>) => writeFileAtomicSync(...a)],
] as const;

describe.each(writers)('%s', (_, write) => {
  it('writes text as UTF-8, bytes, and chunks in order, replacing an existing file', async () => {
    const d = fresh();
    const file = join(d, 'f.bin');
    await write(file, 'héllo\n');
    expect(readFileSync(file, 'utf8')).toBe('héllo\n');
    await write(file, bytes(1, 2, 3));
    expect([...readFileSync(file)]).toEqual([1, 2, 3]);
    await write(
      file,
      (function* () {
        yield bytes(9);
        yield new Uint8Array(0);
        yield Buffer.from('ab');
      })(),
    );
    expect([...readFileSync(file)]).toEqual([9, 0x61, 0x62]);
    await write(file, [bytes(4), bytes(5, 6)]);
    expect([...readFileSync(file)]).toEqual([4, 5, 6]);
    expect(readdirSync(d)).toEqual(['f.bin']);
  });

  it('leaves the target untouched and removes its temporary file when the data fails part-way', async () => {
    const d = fresh();
    const file = join(d, 'f.bin');
    writeFileSync(file, 'old');
    const seen: string[][] = [];
    const failing = (function* () {
      yield bytes(1, 2, 3);
      seen.push(temps(d)); // mid-write: the temporary file exists, with a unique name
      throw new Error('simulated write failure');
    })();
    await expect(write(file, failing)).rejects.toThrow('simulated write failure');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(1);
    expect(seen[0]![0]).toMatch(tempName('f.bin'));
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(d)).toEqual(['f.bin']);
  });

  it('removes its temporary file when the rename fails, and writes nothing for bad data', async () => {
    const d = fresh();
    const folder = join(d, 'folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'inside'), 'kept');
    await expect(write(folder, 'x')).rejects.toThrow();
    expect(readdirSync(d)).toEqual(['folder']);
    expect(readFileSync(join(folder, 'inside'), 'utf8')).toBe('kept');

    const file = join(d, 'f.bin');
    writeFileSync(file, 'old');
    await expect(write(file, 42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(write(file, [bytes(1), 'no' as unknown as Uint8Array])).rejects.toThrow(
      /a Uint8Array for data chunk/,
    );
    await expect(write('', 'x')).rejects.toThrow(/non-empty string for path/);
    await expect(write(join(d, 'missing', 'f.bin'), 'x')).rejects.toThrow(/ENOENT/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(d).sort()).toEqual(['f.bin', 'folder']);
  });
});

describe('temporary names', () => {
  it('differ for two writers of one file in one process, even when one runs inside the other', () => {
    const d = fresh();
    const file = join(d, 'f.bin');
    const seen: string[][] = [];
    writeFileAtomicSync(
      file,
      (function* () {
        yield bytes(1);
        // A second writer of the same file starts while the first one's temporary file is open.
        writeFileAtomicSync(
          file,
          (function* () {
            seen.push(temps(d));
            yield bytes(2);
          })(),
        );
        yield bytes(3);
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(2);
    for (const name of seen[0]!) expect(name).toMatch(tempName('f.bin'));
    expect([...readFileSync(file)]).toEqual([1, 3]); // the outer writer renamed last
    expect(readdirSync(d)).toEqual(['f.bin']);
  });

  it('are unique among many concurrent writers of one file; the result is one whole payload', async () => {
    const d = fresh();
    const file = join(d, 'f.bin');
    const writers = 40;
    const observed = new Set<string>();
    const payload = (i: number) => new Uint8Array(4096).fill(i);
    await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        writeFileAtomic(
          file,
          (function* () {
            for (let k = 0; k < 4; k++) {
              // Each writer sees its own temporary file here, and those of writers in flight.
              for (const n of temps(d)) observed.add(n);
              yield payload(i).subarray(k * 1024, (k + 1) * 1024);
            }
          })(),
        ),
      ),
    );
    // Every writer's temporary file was seen, and no two writers shared one (a shared name would
    // also have failed the exclusive open).
    expect(observed.size).toBe(writers);
    for (const name of observed) expect(name).toMatch(tempName('f.bin'));
    const result = readFileSync(file);
    expect(result.length).toBe(4096);
    expect(result.every((b) => b === result[0])).toBe(true);
    expect(result[0]).toBeLessThan(writers);
    expect(readdirSync(d)).toEqual(['f.bin']);
  });
});

describe('replaceDirAtomic', () => {
  it('creates a folder (and its parent), then replaces it whole', async () => {
    const d = fresh();
    const target = join(d, 'parent', 'out');
    await replaceDirAtomic(target, async (tmp) => {
      expect(tmp.startsWith(join(d, 'parent', '.tmp-out-'))).toBe(true);
      await writeFileAtomic(join(tmp, 'a.txt'), 'first');
    });
    expect(readdirSync(target)).toEqual(['a.txt']);
    await replaceDirAtomic(target, (tmp) => writeFileAtomicSync(join(tmp, 'b.txt'), 'second'));
    expect(readdirSync(target)).toEqual(['b.txt']);
    expect(readFileSync(join(target, 'b.txt'), 'utf8')).toBe('second');
    expect(readdirSync(join(d, 'parent'))).toEqual(['out']); // no temporary or old folder left
  });

  it('leaves the existing folder untouched and removes the temporary one when filling fails', async () => {
    const d = fresh();
    const target = join(d, 'out');
    await replaceDirAtomic(target, (tmp) => writeFileSync(join(tmp, 'a.txt'), 'kept'));
    await expect(
      replaceDirAtomic(target, (tmp) => {
        writeFileSync(join(tmp, 'partial.txt'), 'half');
        throw new Error('simulated failure');
      }),
    ).rejects.toThrow('simulated failure');
    expect(readdirSync(d)).toEqual(['out']);
    expect(readdirSync(target)).toEqual(['a.txt']);
    expect(readFileSync(join(target, 'a.txt'), 'utf8')).toBe('kept');
  });

  it('keeps the temporary folder when keepTempOnError says so (a simulated crash)', async () => {
    const d = fresh();
    const target = join(d, 'out');
    const crash = new Error('simulated crash');
    await expect(
      replaceDirAtomic(
        target,
        () => {
          throw crash;
        },
        { keepTempOnError: (e) => e === crash },
      ),
    ).rejects.toBe(crash);
    const left = readdirSync(d);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(tempName('out'));
    await expect(replaceDirAtomic(target, 'x' as never)).rejects.toThrow(TypeError);
  });
});
