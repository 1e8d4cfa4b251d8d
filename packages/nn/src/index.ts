/**
 * `@dlf/nn`: differentiable ops (functional) and the module system, with a typical small-CNN
 * toolbox: Conv2d, Linear, pooling, batch norm, dropout, Sequential, summaries, JSON model
 * descriptions and state dicts. Importing it also enables autograd on tensors.
 *
 * @example
 * ```ts
 * import { randn, randint } from '@dlf/tensor-core';
 * import { seedCnn, summary, formatSummary } from '@dlf/nn';
 * const model = seedCnn({ classes: 10 });
 * console.log(formatSummary(summary(model, [3, 32, 32])));
 * const logits = model.forward(randn([8, 3, 32, 32]));
 * ```
 *
 * @module @dlf/nn
 * @packageDocumentation
 */
export * from './functional.js';
export * from './init.js';
export { Module, Parameter, type LayerDescription, type StateDict } from './module.js';
export * from './layers/index.js';
export { seedCnn, type SeedCnnOptions } from './presets.js';
export { summary, formatSummary, type ModelSummary, type SummaryRow } from './summary.js';
export { noGrad, enableGrad, isGradEnabled, gradcheck } from '@dlf/autograd';
export { saveStateDict, loadStateDictFile, saveModel, loadModel, ARCHITECTURE_KEY } from './io.js';
export { impliedStateShapes } from './model-file/architecture.js';
export { FileError } from './model-file/errors.js';
export { META, type ModelInfo, type Preprocess, readModelFile } from './model-file/read.js';
