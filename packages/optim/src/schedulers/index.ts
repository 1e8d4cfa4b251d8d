/**
 * Learning-rate schedules following PyTorch 1.13's `torch.optim.lr_scheduler`: the shared base with
 * its state dict in `base.ts`, one file per schedule.
 */
export { LRScheduler, type SchedulerState } from './base.js';
export { CosineAnnealingLR, type CosineAnnealingLROptions } from './cosine-annealing.js';
export { ExponentialLR, type ExponentialLROptions } from './exponential.js';
export { LinearLR, type LinearLROptions } from './linear.js';
export { MultiStepLR, type MultiStepLROptions } from './multi-step.js';
export { OneCycleLR, type OneCycleLROptions } from './one-cycle.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './reduce-on-plateau.js';
export { SequentialLR, type SequentialLROptions } from './sequential.js';
export { StepLR, type StepLROptions } from './step.js';
