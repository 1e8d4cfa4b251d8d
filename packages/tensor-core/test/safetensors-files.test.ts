/** Loading and saving files: errors that name the file, atomic replacement. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DType,
  HeaderTooLargeError,
  HeaderTooSmallError,
  InvalidOffsetError,
  loadSafetensors,
  loadSafetensorsSync,
  MetadataIncompleteBufferError,
  SafetensorsError,
  saveSafetensors,
  saveSafetensorsSync,
  serializeSafetensors,
  type Tensor,
  tensor,
} from '@dlf/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craft, disposeAll, expectError, okEntry } from './safetensors-helpers.js';

// ---------------------------------------------------------------------------------------------
// Files: load, save, atomic replacement
// ---------------------------------------------------------------------------------------------

describe('safetensors files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlf-safetensors-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const sub = (name: string) => {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  };

  it('saves and loads, async and sync, with metadata', async () => {
    const d = sub('roundtrip');
    const w = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    const labels = tensor(new Int32Array([3, 1]), { shape: [2] });
    const img = tensor(new Uint8Array([0, 255, 128, 7]), { shape: [1, 2, 2] });
    const input = { w, labels, img };
    const path = join(d, 'model.safetensors');
    await saveSafetensors(path, input, { epoch: '3' });
    expect(readFileSync(path)).toEqual(Buffer.from(serializeSafetensors(input, { epoch: '3' })));
    for (const loaded of [await loadSafetensors(path), loadSafetensorsSync(path)]) {
      expect(loaded.metadata).toEqual({ epoch: '3' });
      for (const [name, t] of Object.entries(input))
        expect(loaded.tensors.get(name)!.toArray()).toEqual(t.toArray());
      disposeAll(loaded.tensors);
    }
    const path2 = join(d, 'sync.safetensors');
    saveSafetensorsSync(path2, new Map(Object.entries(input)), { epoch: '3' });
    expect(readFileSync(path2)).toEqual(readFileSync(path));
    expect(readdirSync(d).sort()).toEqual(['model.safetensors', 'sync.safetensors']);
    for (const t of Object.values(input)) t.dispose();
  });

  it('loads files with empty tensors and no tensors', async () => {
    const d = sub('empty');
    const e = tensor(new Float32Array(0), { shape: [3, 0] });
    await saveSafetensors(join(d, 'e.safetensors'), { e });
    await saveSafetensors(join(d, 'none.safetensors'), {});
    const loaded = await loadSafetensors(join(d, 'e.safetensors'));
    expect(loaded.tensors.get('e')!.shape).toEqual([3, 0]);
    expect(loadSafetensorsSync(join(d, 'none.safetensors')).tensors.size).toBe(0);
    disposeAll(loaded.tensors);
    e.dispose();
  });

  it('names the file in load errors', async () => {
    const d = sub('errors');
    const path = join(d, 'bad.safetensors');
    writeFileSync(path, craft(`{${okEntry('w', 1, 2)}}`, 2));
    const async = await loadSafetensors(path).catch((e: unknown) => e);
    expect(async).toBeInstanceOf(InvalidOffsetError);
    expect((async as InvalidOffsetError).file).toBe(path);
    expect((async as InvalidOffsetError).tensor).toBe('w');
    expect((async as Error).message).toContain(path);
    const sync = expectError(() => loadSafetensorsSync(path), InvalidOffsetError);
    expect(sync.file).toBe(path);
    const small = join(d, 'small.safetensors');
    writeFileSync(small, new Uint8Array(3));
    expect(await loadSafetensors(small).catch((e: unknown) => e)).toBeInstanceOf(HeaderTooSmallError);
    expectError(() => loadSafetensorsSync(small), HeaderTooSmallError);
    const huge = join(d, 'huge.safetensors');
    writeFileSync(huge, craft('{}', 0, 2n ** 63n));
    expect(await loadSafetensors(huge).catch((e: unknown) => e)).toBeInstanceOf(HeaderTooLargeError);
    const trailing = join(d, 'trailing.safetensors');
    writeFileSync(trailing, craft(`{${okEntry('w', 0, 2)}}`, 3));
    expect(await loadSafetensors(trailing).catch((e: unknown) => e)).toBeInstanceOf(
      MetadataIncompleteBufferError,
    );
    // I/O errors stay I/O errors.
    const missing = await loadSafetensors(join(d, 'missing.safetensors')).catch((e: unknown) => e);
    expect(missing).not.toBeInstanceOf(SafetensorsError);
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(() => loadSafetensorsSync(join(d, 'missing.safetensors'))).toThrow(/ENOENT/);
  });

  /** A tensor look-alike that passes the argument checks but fails while its bytes are written. */
  function failingTensor(seen: string[][], d: string): Tensor {
    return {
      __isDlfTensor: true,
      shape: [2],
      dtype: 'float32' as DType,
      size: 2,
      isDisposed: false,
      get isContiguous(): boolean {
        seen.push(readdirSync(d)); // the directory mid-write
        throw new Error('simulated write failure');
      },
    } as unknown as Tensor;
  }

  it('leaves an existing file byte-identical and no temp file when saving fails', async () => {
    const d = sub('atomic');
    const path = join(d, 'model.safetensors');
    const old = tensor([1, 2, 3]);
    await saveSafetensors(path, { old });
    const before = readFileSync(path);
    const good = tensor([4, 5]);
    const disposed = tensor([6]);
    disposed.dispose();

    const attempts: [string, () => Promise<unknown>][] = [
      ['bad metadata', () => saveSafetensors(path, { good }, { n: 1 as unknown as string })],
      ['disposed tensor', () => saveSafetensors(path, { good, disposed })],
      ['bad name', () => saveSafetensors(path, { __metadata__: good })],
      ['bad metadata (sync)', async () => saveSafetensorsSync(path, { good }, { n: 1 as unknown as string })],
      ['disposed tensor (sync)', async () => saveSafetensorsSync(path, { good, disposed })],
    ];
    for (const [what, attempt] of attempts) {
      await expect(attempt(), what).rejects.toThrow();
      expect(readFileSync(path).equals(before), what).toBe(true);
      expect(readdirSync(d), what).toEqual(['model.safetensors']);
    }

    // A failure in the middle of writing: the temp file existed, and is gone afterwards.
    for (const save of [
      saveSafetensors,
      async (...a: Parameters<typeof saveSafetensorsSync>) => saveSafetensorsSync(...a),
    ]) {
      const seen: string[][] = [];
      await expect(save(path, { good, zzz: failingTensor(seen, d) })).rejects.toThrow(
        'simulated write failure',
      );
      expect(seen).toHaveLength(1);
      expect(seen[0]!.some((f) => /^\.tmp-model\.safetensors-\d+-[0-9a-f]+$/.test(f))).toBe(true);
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(readdirSync(d)).toEqual(['model.safetensors']);
    }

    // A failing rename (the target is a folder) also cleans up.
    const folder = join(d, 'folder.safetensors');
    mkdirSync(folder);
    await expect(saveSafetensors(folder, { good })).rejects.toThrow();
    expect(() => saveSafetensorsSync(folder, { good })).toThrow();
    expect(readdirSync(d).sort()).toEqual(['folder.safetensors', 'model.safetensors']);
    // A missing folder: nothing written anywhere.
    await expect(saveSafetensors(join(d, 'nope', 'x.safetensors'), { good })).rejects.toThrow(/ENOENT/);

    // And a successful save replaces the file.
    await saveSafetensors(path, { good });
    const { tensors } = await loadSafetensors(path);
    expect([...tensors.keys()]).toEqual(['good']);
    expect(readdirSync(d).sort()).toEqual(['folder.safetensors', 'model.safetensors']);
    disposeAll(tensors);
    old.dispose();
    good.dispose();
  });
});
