/**
 * Issue 16, cases 6 and 7: plots degrade instead of failing, and names from files are printed with
 * their control characters escaped.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeControl } from '@dlf/tensor-core';
import { confusionSvg, svgToPng } from '@dlf/train';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'dlf-plots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the confusion plot degrades instead of failing', () => {
  it('a class named with an escape character is drawn, the character shown escaped', async () => {
    const svg = confusionSvg(
      [
        [3, 1],
        [0, 4],
      ],
      ['\u001b[31mred', 'blue\u0007'],
    );
    expect(svg).toContain('\\x1b[31mred');
    expect(svg).toContain('blue\\x07');
    expect([...svg].filter((c) => c.charCodeAt(0) < 32 && c !== '\n')).toEqual([]);
    const file = join(dir, 'escaped.png');
    await svgToPng(svg, file);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
  });

  it('1,000 classes: a small note instead of a million cells, drawn in well under a second', async () => {
    const k = 1000;
    const confusion = Array.from({ length: k }, (_, i) =>
      Array.from({ length: k }, (_, j) => (i === j ? 5 : 0)),
    );
    const classes = Array.from({ length: k }, (_, i) => `c${i}`);
    const t = performance.now();
    const svg = confusionSvg(confusion, classes);
    await svgToPng(svg, join(dir, 'many.png'));
    expect(performance.now() - t).toBeLessThan(1000);
    expect(svg.length).toBeLessThan(2000);
    expect(svg).toContain('1000 classes: too many to draw (at most 200)');
  });
});

describe('control characters in printed names', () => {
  it('escape, bell, carriage return and C1 controls become visible escapes; tab and newline stay', () => {
    expect(escapeControl('a\u001b[2Jb\u0007c\rd\u009be\tf\ng')).toBe('a\\x1b[2Jb\\x07c\\x0dd\\x9be\tf\ng');
  });
});
