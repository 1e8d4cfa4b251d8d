/**
 * Issue 16: the resource budgets can be raised from the command line. A file past the default
 * budget is refused (or, for an image in a dataset, skipped) with a message naming the file and the
 * flag that raises it; the same file is accepted with the flag. Bad budget values are usage errors.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { modelFromJSON } from '@dlf/nn';
import { saveModelFile } from '@dlf/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withFlagNames } from '../src/cli/flag-names.js';
import { cleanup, runCli, trainedFixture } from './helpers.js';

// sharp is @dlf/data's dependency; the test borrows it to write a large (but small on disk) image.
const sharp = createRequire(new URL('../../data/package.json', import.meta.url))(
  'sharp',
) as typeof import('sharp');

let dir: string, data: string, tiny: string, trained: string;

/** A model file for an 8192×8192 grey input: cheap to store, costly to run. */
async function bigInputModel(name: string, layers: unknown[]): Promise<string> {
  const model = modelFromJSON({ format: 'dlf.sequential', version: 1, layers });
  const path = join(dir, name);
  await saveModelFile(path, model, {
    classes: ['a', 'b'],
    inputShape: [1, 8192, 8192],
    preprocess: { size: [8192, 8192], channels: 1, fit: 'fill', scale: 1 / 255, mean: [0], std: [1] },
  });
  model.dispose();
  return path;
}

const head = [
  { type: 'AdaptiveAvgPool2d', outputSize: 1 },
  { type: 'Flatten' },
  { type: 'Linear', inFeatures: 3, outFeatures: 2 },
];
const classifierHead = (channels: number) => [
  ...head.slice(0, 2),
  { type: 'Linear', inFeatures: channels, outFeatures: 2 },
];

beforeAll(async () => {
  ({ dir, data, tiny, model: trained } = await trainedFixture({ train: 4, test: 2 }));
}, 120_000);
afterAll(() => cleanup(dir));

describe('budget flags', () => {
  it('an image past the pixel budget is refused naming the file and --max-image-pixels; the flag admits it', async () => {
    // 6700 × 6000 = 40.2 M pixels, one past the default 40 M budget; grey and flat, so the file is small.
    const image = join(dir, 'large.png');
    await sharp({ create: { width: 6700, height: 6000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .toColourspace('b-w')
      .png()
      .toFile(image);
    const refused = await runCli(['predict', trained, image]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: The image .*large\.png could not be read or decoded/);
    expect(refused.stderr).toMatch(/40,200,000|6,700×6,000/);
    expect(refused.stderr).toContain('raise it with --max-image-pixels');
    const accepted = await runCli(['predict', trained, image, '--max-image-pixels', '5e7']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toMatch(/large\.png\s+\S+ \d/);
  }, 60_000);

  it('images of a dataset past the pixel budget are skipped with a warning naming the file and the flag', async () => {
    // The shapes are 16 × 16 = 256 pixels: a budget of 255 skips every one of them.
    const r = await runCli(['evaluate', data, trained, '--max-image-pixels', '255']);
    const skipped = r.stderr.split('\n').filter((l) => l.startsWith('warning: Skipped '));
    expect(skipped.length).toBeGreaterThan(0);
    for (const line of skipped) {
      expect(line).toMatch(
        /^warning: Skipped .*\.png: it could not be read or decoded \(its header announces 16×16 pixels, more than the 255-pixel budget \(raise it with --max-image-pixels to read it\)\)\.$/,
      );
    }
    expect(r.code).toBe(1);
    const ok = await runCli(['evaluate', data, trained, '--max-image-pixels', '256']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toMatch(/Skipped/);
  });

  it('a model past the MAC budget is refused naming the file and --max-model-macs; the flag admits it', async () => {
    // One 33×33 convolution to 3 channels over 8192×8192: 218 G MACs per image (the default is 200 G),
    // 0.8 GiB of activations (under the 1 GiB default).
    const file = await bigInputModel('macs.safetensors', [
      { type: 'Conv2d', inChannels: 1, outChannels: 3, kernelSize: 33, padding: 16 },
      ...head,
    ]);
    const refused = await runCli(['summary', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error: The model file .*macs\.safetensors describes a model that needs 2\d\d\.\d G multiply-accumulates per example, more than the 200\.0 G budget; raise it with --max-model-macs if/,
    );
    const accepted = await runCli(['summary', file, '--max-model-macs', '300000000000']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toMatch(/MACs per image: 2\d\d,/);
  });

  it('a model past the activation budget is refused naming --max-model-activations; the flag admits it', async () => {
    // A 1×1 convolution to 5 channels over 8192×8192: 1.25 GiB of activations per image.
    const file = await bigInputModel('activations.safetensors', [
      { type: 'Conv2d', inChannels: 1, outChannels: 5, kernelSize: 1 },
      ...classifierHead(5),
    ]);
    const refused = await runCli(['summary', file, '--json']);
    expect(refused.code).toBe(1);
    const event = JSON.parse(refused.stdout.trim()) as { message: string; path: string };
    expect(event.path).toBe(file);
    expect(event.message).toMatch(
      /activations take 1\.\d GiB per example .* raise it with --max-model-activations/,
    );
    const accepted = await runCli(['summary', file, '--max-model-activations', '2e9']);
    expect(accepted.code, accepted.stderr).toBe(0);
  });

  it('a model description past --max-model-params is refused naming the flag', async () => {
    const r = await runCli(['summary', tiny, '--max-model-params', '10']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: The model .*tiny\.json declares \d+ parameters, more than the 10 budget .*raise it with --max-model-params/,
    );
  });

  it('bad budget values are usage errors naming the flag, before anything is read', async () => {
    for (const [argv, flag] of [
      [['predict', join(dir, 'none.safetensors'), 'x.png', '--max-image-pixels', '0'], 'max-image-pixels'],
      [['evaluate', join(dir, 'none'), trained, '--max-model-macs', 'lots'], 'max-model-macs'],
      [['train', join(dir, 'none'), '--max-model-activations', '-5'], 'max-model-activations'],
      [['summary', 'seed-cnn', '--max-model-params', '1.5'], 'max-model-params'],
      [['export', join(dir, 'none'), join(dir, 'x'), '--max-image-pixels', '1e400'], 'max-image-pixels'],
    ] as const) {
      const r = await runCli([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(
        new RegExp(
          `^error: Expected a whole number ≥ 1 \\(e\\.g\\. 80000000 or 8e7\\) for --${flag} but received '`,
        ),
      );
    }
  });

  it("each command's help lists the budget flags it takes", async () => {
    const image = ['--max-image-pixels'];
    const model = ['--max-model-activations', '--max-model-macs', '--max-model-params'];
    for (const [argv, flags] of [
      [['train'], [...image, ...model]],
      [['evaluate'], [...image, ...model]],
      [['predict'], [...image, ...model]],
      [['summary'], model],
      [['export'], image],
      [['onnx', 'export'], model],
    ] as const) {
      const r = await runCli([...argv, '--help']);
      for (const flag of flags)
        expect(r.stdout, `${argv.join(' ')} --help`).toMatch(new RegExp(`^  ${flag} <`, 'm'));
    }
  });

  it('library option names become flag names in messages', () => {
    expect(withFlagNames('(raise maxPixels to read it)')).toBe(
      '(raise it with --max-image-pixels to read it)',
    );
    expect(withFlagNames('raise maxActivationBytes if')).toBe('raise it with --max-model-activations if');
    expect(withFlagNames('maxMacs stays when not raised')).toBe('maxMacs stays when not raised');
  });
});
