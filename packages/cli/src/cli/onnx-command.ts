/** `dlf onnx export|import`: model files to and from ONNX (a front-end over @dlf/onnx). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type DescribedModel, type Preprocess, readModelFile } from '@dlf/nn';
import { exportOnnx, importOnnx, OnnxError, OPSETS } from '@dlf/onnx';
import { setNumThreads, writeFileAtomic } from '@dlf/tensor-core';
import { saveModelFile } from '@dlf/train';
import { FileError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { budgetHelp, MODEL_BUDGET_OPTIONS, modelBudget } from './budgets.js';
import { choiceFlag, intFlag, type Parsed, parse, parseInputShape } from './args.js';
import { type CliIO, Output } from './output.js';
import { shown } from './train-command.js';

export const ONNX_HELP = `Usage: dlf onnx export <model.safetensors> <out.onnx> [options]
       dlf onnx import <in.onnx> <out.safetensors> [options]

export writes a dlf model file as ONNX, for onnxruntime (Node, web, C++, Python) and other
frameworks: opset 13 by default, BatchNorm in inference form, and the class names, input shape
and preprocessing in the file's metadata_props.

import reads an ONNX model (e.g. from torch.onnx.export) of the ops dlf has (Conv, Gemm, MatMul+Add,
Relu and other activations, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Add,
Concat, Flatten/Reshape, Dropout, Softmax, Identity) into a model file to fine-tune (dlf train
--model <out.safetensors>), evaluate or predict with. Files not written by dlf lack class names
and preprocessing: give them with the options below.

Export options:
  --opset <n>             ONNX opset, ${OPSETS.min} to ${OPSETS.max} (default ${OPSETS.default})
  --fold-batchnorm        fold BatchNorm layers into the convolution before them
  --batch-size <n>        a fixed batch size (default: a symbolic batch dimension)
${budgetHelp('model', 26)}

Import options:
  --classes <a,b,…>       class names, in output order (default: the file's, else 0, 1, …)
  --input <CxHxW>         input shape when the file's input has none (e.g. 3x32x32)
  --mean <m[,m,m]>        per-channel mean subtracted after scaling to [0, 1]
  --std <s[,s,s]>         per-channel standard deviation divided by
  --fit <fill|cover|contain>  how images are fitted to the input size
  --overwrite             replace an existing output file

Common:
  --json                  the result as JSON
  -q, --quiet             print nothing but errors
  -h, --help              this help

Examples:
  dlf onnx export runs/mnist/model.safetensors mnist.onnx --opset 17
  dlf onnx import resnet.onnx resnet.safetensors --classes cat,dog --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225`;

function numbers(
  command: string,
  v: Parsed['values'],
  name: string,
  positive: boolean,
): number[] | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const list = String(raw)
    .split(',')
    .map((s) => Number(s.trim()));
  if (list.length === 0 || list.length > 3 || list.some((x) => !Number.isFinite(x) || (positive && x <= 0))) {
    throw new UsageError(
      `Expected 1 to 3 ${positive ? 'positive ' : ''}numbers for --${name} but received '${String(raw)}'.`,
      command,
    );
  }
  return list;
}

function fileError(path: string, what: string, e: unknown): unknown {
  return e instanceof OnnxError ? new FileError(path, `${what} ${path}: ${e.message}`, { cause: e }) : e;
}

/**
 * Parses a subcommand's arguments: undefined when --help was printed, else the flags, the two paths
 * (resolved) and the output.
 */
function start(
  sub: 'export' | 'import',
  argv: string[],
  options: Parameters<typeof parse>[2],
  names: [string, string],
  io: CliIO,
): { v: Parsed['values']; paths: [string, string]; out: Output } | undefined {
  const { values: v, positionals } = parse(`onnx ${sub}`, argv, options, 2);
  if (v.help) {
    io.stdout.write(`${ONNX_HELP}\n`);
    return undefined;
  }
  if (positionals.length < 2) {
    throw new UsageError(
      `dlf onnx ${sub} needs <${names[0]}> and <${names[1]}>; missing <${names[positionals.length]}>.`,
      'onnx',
    );
  }
  const threads = intFlag(`onnx ${sub}`, v, 'threads', 1, 256);
  if (threads !== undefined) setNumThreads(threads);
  const out = new Output(io, {
    json: v.json === true,
    quiet: v.quiet === true,
    noColor: v['no-color'] === true,
  });
  return { v, paths: [resolve(positionals[0]!), resolve(positionals[1]!)], out };
}

async function exportSub(argv: string[], io: CliIO): Promise<number> {
  const c = 'onnx export';
  const options = {
    opset: { type: 'string' },
    'fold-batchnorm': { type: 'boolean' },
    'batch-size': { type: 'string' },
    ...MODEL_BUDGET_OPTIONS,
  } as const;
  const started = start('export', argv, options, ['model.safetensors', 'out.onnx'], io);
  if (!started) return 0;
  const { v, out } = started;
  const [modelPath, outPath] = started.paths;
  const opset = intFlag(c, v, 'opset', OPSETS.min, OPSETS.max) ?? OPSETS.default;
  const batchSize = intFlag(c, v, 'batch-size', 1, 1 << 20);
  const { model, info } = await readModelFile(modelPath, modelBudget(c, v));
  try {
    let bytes: Uint8Array;
    try {
      bytes = exportOnnx(model, {
        inputShape: info.inputShape,
        classes: info.classes,
        preprocess: info.preprocess,
        opset,
        foldBatchNorm: v['fold-batchnorm'] === true,
        producerVersion: VERSION,
        ...(batchSize !== undefined ? { batchSize } : {}),
      });
    } catch (e) {
      throw fileError(modelPath, 'Cannot export the model file', e);
    }
    await writeFileAtomic(outPath, bytes);
    out.document({ model: modelPath, onnx: outPath, opset, bytes: bytes.length });
    out.result(
      `Exported ${shown(modelPath)} to ${shown(outPath)} (ONNX opset ${opset}, ${bytes.length} bytes)`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

async function importSub(argv: string[], io: CliIO): Promise<number> {
  const c = 'onnx import';
  const options = {
    classes: { type: 'string' },
    input: { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    fit: { type: 'string' },
    overwrite: { type: 'boolean' },
  } as const;
  const started = start('import', argv, options, ['in.onnx', 'out.safetensors'], io);
  if (!started) return 0;
  const { v, out } = started;
  const [inPath, outPath] = started.paths;
  const classes =
    typeof v.classes === 'string'
      ? v.classes
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : undefined;
  if (classes?.length === 0) throw new UsageError('Expected class names for --classes (a,b,c).', 'onnx');
  const inputShape = typeof v.input === 'string' ? parseInputShape(v.input) : undefined;
  const preprocess: Partial<Preprocess> = {};
  const mean = numbers(c, v, 'mean', false);
  const std = numbers(c, v, 'std', true);
  const fit = choiceFlag(c, v, 'fit', ['fill', 'cover', 'contain'] as const);
  if (mean) preprocess.mean = mean;
  if (std) preprocess.std = std;
  if (fit) preprocess.fit = fit;
  if (existsSync(outPath) && v.overwrite !== true) {
    throw new FileError(outPath, `${shown(outPath)} exists; add --overwrite to replace it.`);
  }
  let imported: Awaited<ReturnType<typeof importOnnx>>;
  try {
    imported = await importOnnx(inPath, {
      ...(classes ? { classes } : {}),
      ...(inputShape ? { inputShape } : {}),
      preprocess,
    });
  } catch (e) {
    throw fileError(inPath, 'Cannot import the ONNX file', e);
  }
  const { model } = imported;
  try {
    for (const note of imported.notes) out.warn(note);
    const channels = imported.inputShape[0];
    for (const [name, list] of [
      ['mean', imported.preprocess.mean],
      ['std', imported.preprocess.std],
    ] as const) {
      if (list.length !== 1 && list.length !== channels) {
        throw new UsageError(
          `Expected 1 or ${channels} values for --${name} (the model has ${channels} input channels).`,
          'onnx',
        );
      }
    }
    await saveModelFile(outPath, model as DescribedModel, imported, { 'dlf.source': 'onnx' });
    out.document({
      onnx: inPath,
      model: outPath,
      classes: imported.classes,
      inputShape: imported.inputShape,
      notes: imported.notes,
    });
    out.result(
      `Imported ${shown(inPath)} to ${shown(outPath)} (${imported.classes.length} classes, input ${imported.inputShape.join('×')})`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

/** `dlf onnx <export|import> …`. */
export async function onnxCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'export') return exportSub(rest, io);
  if (sub === 'import') return importSub(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(`${ONNX_HELP}\n`);
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`Unknown subcommand '${sub}' for dlf onnx; use export or import.`, 'onnx');
}
