/**
 * `@dlf/optim`: optimizers that update every parameter in one native call (SGD, Adam, AdamW),
 * learning-rate schedules, and state dicts that make a resumed run continue bit for bit. Update rules
 * and schedules follow PyTorch 1.13.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
 * const sched = new StepLR(opt, { stepSize: 10, gamma: 0.5 });
 * for (let epoch = 0; epoch < 30; epoch++) {
 *   for (const [x, y] of batches) {
 *     opt.zeroGrad();
 *     crossEntropy(model.forward(x), y).backward();
 *     opt.step();
 *   }
 *   sched.step();
 * }
 * ```
 *
 * @module @dlf/optim
 * @packageDocumentation
 */
export { Optimizer, type JsonValue, type ParamGroup, type StateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { ExponentialMovingAverage, type EmaOptions } from './ema.js';
export {
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  SequentialLR,
  StepLR,
  type CosineAnnealingLROptions,
  type ExponentialLROptions,
  type LinearLROptions,
  type MultiStepLROptions,
  type OneCycleLROptions,
  type ReduceLROnPlateauOptions,
  type SchedulerState,
  type SequentialLROptions,
  type StepLROptions,
} from './schedulers/index.js';
