// Each kind's file exports its layers and registers them; a new layer needs no edit here.
export * from './activation.js';
export * from './conv.js';
export * from './dropout.js';
export * from './linear.js';
export * from './normalization.js';
export * from './pool.js';
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
export * from './reshape.js';
export * from './scale.js';
export * from './sequential.js';
export * from './whiten.js';
