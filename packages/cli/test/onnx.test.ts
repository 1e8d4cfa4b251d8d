import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFile, seedCnn } from '@dlf/nn';
import { saveModelFile } from '@dlf/train';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, runCli, tempDir } from './helpers.js';

const dir = tempDir();
afterAll(() => cleanup(dir));
const fixtures = new URL('../../onnx/fixtures/', import.meta.url).pathname;

describe('dlf onnx', () => {
  it('exports a model file and imports it back with its classes, input shape, preprocessing and weights', async () => {
    const path = join(dir, 'm.safetensors');
    const preprocess = {
      size: [32, 32],
      channels: 3,
      fit: 'cover',
      scale: 1 / 255,
      mean: [0.5, 0.4, 0.3],
      std: [0.2, 0.2, 0.25],
    } as const;
    await saveModelFile(path, seedCnn({ classes: 3, seed: 9 }), {
      classes: ['cat', 'dog', 'eel'],
      inputShape: [3, 32, 32],
      preprocess: { ...preprocess, size: [32, 32], mean: [...preprocess.mean], std: [...preprocess.std] },
    });
    const onnx = join(dir, 'm.onnx');
    const ex = await runCli(['onnx', 'export', path, onnx, '--opset', '15', '--json']);
    expect(ex.stderr).toBe('');
    expect(ex.code).toBe(0);
    const doc = JSON.parse(ex.stdout);
    expect(doc).toMatchObject({ onnx, opset: 15 });
    expect(readFileSync(onnx).length).toBe(doc.bytes);

    const back = join(dir, 'back.safetensors');
    const im = await runCli(['onnx', 'import', onnx, back]);
    expect(im.code).toBe(0);
    expect(im.stdout).toMatch(/Imported .*m\.onnx.* \(3 classes, input 3×32×32\)/);
    const a = await readModelFile(path);
    const b = await readModelFile(back);
    expect(b.info.classes).toEqual(['cat', 'dog', 'eel']);
    expect(b.info.inputShape).toEqual([3, 32, 32]);
    expect(b.info.preprocess).toEqual(a.info.preprocess);
    for (const [k, t] of a.model.stateDict()) {
      expect(
        Buffer.from(b.model.stateDict().get(k)!.toTypedArray().buffer).equals(
          Buffer.from(t.toTypedArray().buffer),
        ),
      ).toBe(true);
    }
    a.model.dispose();
    b.model.dispose();

    const again = await runCli(['onnx', 'import', onnx, back]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; add --overwrite/);
  });

  it('imports a PyTorch export with the class names and preprocessing given as flags', async () => {
    const out = join(dir, 'torch.safetensors');
    const r = await runCli([
      'onnx',
      'import',
      join(fixtures, 'seed-cnn.onnx'),
      out,
      '--classes',
      'a,b,c,d,e,f,g,h,i,j',
      '--mean',
      '0.5',
      '--std',
      '0.25',
      '--fit',
      'contain',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { info, model } = await readModelFile(out);
    expect(info.classes).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
    expect(info.inputShape).toEqual([3, 16, 16]);
    expect(info.preprocess).toMatchObject({ mean: [0.5], std: [0.25], fit: 'contain', size: [16, 16] });
    model.dispose();
    const wrong = await runCli([
      'onnx',
      'import',
      join(fixtures, 'seed-cnn.onnx'),
      join(dir, 'w.safetensors'),
      '--classes',
      'a,b',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/outputs 10 scores but the class names are \["a","b"\]/);
  });

  it('reports what it cannot import, naming the file and node', async () => {
    const r = await runCli(['onnx', 'import', join(fixtures, 'resnet20.onnx'), join(dir, 'r.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot import the ONNX file .*resnet20\.onnx: the model is a graph/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from([0x3a, 0xff, 0xff, 0xff, 0x0f]));
    const j = await runCli(['onnx', 'import', junk, join(dir, 'j.safetensors')]);
    expect(j.code).toBe(1);
    expect(j.stderr).toMatch(
      /junk\.onnx: ModelProto at byte \d+: a GraphProto declares 33554431 bytes but only 0 are left/,
    );
  });

  it('usage errors exit with code 2', async () => {
    expect((await runCli(['onnx'])).code).toBe(2);
    expect((await runCli(['onnx', 'convert'])).stderr).toMatch(/Unknown subcommand 'convert'/);
    expect((await runCli(['onnx', 'export', 'a.safetensors'])).stderr).toMatch(/missing <out.onnx>/);
    expect((await runCli(['onnx', 'export', 'a', 'b', '--opset', '12'])).stderr).toMatch(
      /\[13, 17\] for --opset/,
    );
    expect((await runCli(['onnx', 'import', 'a', 'b', '--std', '0'])).code).toBe(2);
    const help = await runCli(['onnx', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/dlf onnx import <in.onnx> <out.safetensors>/);
  });
});
