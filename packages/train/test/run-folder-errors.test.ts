import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileError, resolveConfig } from '@dlf/train';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRunFolderPath, prepareRunFolder } from '../src/run-folder.js';

const dir = mkdtempSync(join(tmpdir(), 'dlf-run-folder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the run folder', () => {
  it('under a file: one sentence naming the folder and the cause, not a raw ENOTDIR', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const out = join(file, 'run');
    const config = resolveConfig({ epochs: 1 });
    const error = await prepareRunFolder(config, { out, modelName: 'seed-cnn' }, () => {}).catch((e) => e);
    expect(error).toBeInstanceOf(FileError);
    expect(error.message).toBe(
      `Cannot create the run folder ${out}: a part of the path is a file, not a folder (ENOTDIR).`,
    );
    // The same sentence before any data is loaded; a fresh path passes.
    expect(() => checkRunFolderPath(join(out, 'deeper'))).toThrow(
      `Cannot create the run folder ${join(out, 'deeper')}: a part of the path is a file, not a folder (ENOTDIR).`,
    );
    expect(() => checkRunFolderPath(join(dir, 'new', 'run'))).not.toThrow();
  });
});
