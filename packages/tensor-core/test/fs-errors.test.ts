import { describeFsError, errnoCode } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';

const err = (code: string) => Object.assign(new Error(`${code}: raw message`), { code });

describe('file-system errors in one sentence', () => {
  it('names the path and says the cause in plain words', () => {
    expect(describeFsError(err('EROFS'), 'write', '/mnt/ro/run')).toBe(
      'Cannot write /mnt/ro/run: it is in a read-only folder (EROFS).',
    );
    expect(describeFsError(err('EACCES'), 'create the run folder', '/srv/runs/a')).toBe(
      'Cannot create the run folder /srv/runs/a: it is in a read-only folder (permission denied) (EACCES).',
    );
    expect(
      describeFsError(err('ENOSPC'), 'write', 'runs/a/metrics.jsonl', 'the last checkpoint is intact'),
    ).toBe('Cannot write runs/a/metrics.jsonl: the disk is full (ENOSPC); the last checkpoint is intact.');
    expect(describeFsError(err('ENOTDIR'), 'write', 'notes.txt/run')).toBe(
      'Cannot write notes.txt/run: a part of the path is a file, not a folder (ENOTDIR).',
    );
  });

  it('keeps an unknown code and its message', () => {
    expect(describeFsError(err('EWEIRD'), 'read', 'x')).toBe('Cannot read x: EWEIRD: raw message.');
    expect(errnoCode(err('ENOSPC'))).toBe('ENOSPC');
    expect(errnoCode(new Error('plain'))).toBeUndefined();
  });
});
