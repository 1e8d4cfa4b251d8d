/**
 * Issue 16: class and file names reach the terminal with control characters escaped. A class folder
 * and an image named with an escape character train, evaluate and predict; the text lines show
 * `\x1b`, never the raw character, and the JSON documents keep the names as they are.
 */
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, runCli, trainedFixture } from './helpers.js';

const HOSTILE = 'cir\u001b[2Jcle';
const ESCAPED = 'cir\\x1b[2Jcle';
/** True when text holds a control character other than tab and newline (what escapeControl escapes). */
const hasControl = (text: string): boolean =>
  [...text].some((ch) => {
    const c = ch.charCodeAt(0);
    return (c < 32 && c !== 9 && c !== 10) || (c >= 0x7f && c <= 0x9f);
  });

let dir: string, data: string, model: string, image: string;
beforeAll(async () => {
  ({ dir, data, model } = await trainedFixture({ train: 6, test: 3 }, (folder) => {
    for (const split of ['train', 'test'])
      renameSync(join(folder, split, 'circle'), join(folder, split, HOSTILE));
    const classFolder = join(folder, 'test', HOSTILE);
    const first = readdirSync(classFolder)[0]!;
    image = join(classFolder, `x\u001b]0;title\u0007${first}`);
    renameSync(join(classFolder, first), image);
  }));
}, 120_000);
afterAll(() => cleanup(dir));

describe('control characters in names', () => {
  it('dlf evaluate escapes class names in its text output; --json keeps them raw', async () => {
    const r = await runCli(['evaluate', data, model]);
    expect(r.code, r.stderr).toBe(0);
    expect(hasControl(r.stdout)).toBe(false);
    expect(r.stdout).toContain(ESCAPED);
    const j = await runCli(['evaluate', data, model, '--json']);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout) as { classes: string[] };
    expect(doc.classes).toContain(HOSTILE);
  });

  it('dlf predict escapes the image name and the class names; --json keeps them raw', async () => {
    const r = await runCli(['predict', model, image, '--top', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(hasControl(r.stdout)).toBe(false);
    expect(r.stdout).toContain('x\\x1b]0;title\\x07');
    expect(r.stdout).toContain(ESCAPED);
    const j = await runCli(['predict', model, image, '--top', '3', '--json']);
    const doc = JSON.parse(j.stdout) as { predictions: { image: string; top: { class: string }[] }[] };
    expect(doc.predictions[0]!.image).toBe(image);
    expect(doc.predictions[0]!.top.map((t) => t.class)).toContain(HOSTILE);
  });

  it('an error naming such a file prints it escaped', async () => {
    const r = await runCli(['predict', join(dir, `no\u001b[31m.safetensors`), image]);
    expect(r.code).toBe(1);
    expect(hasControl(r.stderr)).toBe(false);
    expect(r.stderr).toContain('no\\x1b[31m.safetensors');
  });
});
