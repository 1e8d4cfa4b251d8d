export { LeakyReLU, ReLU, Sigmoid, Tanh } from './activation.js';
export { Conv2d, type Conv2dLayerOptions } from './conv.js';
export { Dropout } from './dropout.js';
export { Linear } from './linear.js';
export { type BatchNormLayerOptions, BatchNorm2d } from './normalization.js';
export { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from './pool.js';
export {
  type InitOptions,
  type LayerSpec,
  type LayerType,
  layerRegistry,
  registerLayer,
  specBool,
  specNumber,
  specSize2,
  stateSize,
  stateSizePair,
} from './registry.js';
export { Flatten } from './reshape.js';
export { type LayerHook, Sequential, type SequentialSpec, sequentialFromJSON } from './sequential.js';
