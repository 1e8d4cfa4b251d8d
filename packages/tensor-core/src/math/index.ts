export { broadcastShape, checkFloatTensor, normalizeAxis } from './common.js';
export { abs, add, div, exp, log, mul, neg, pow, sqrt, sub } from './elementwise.js';
export { matmul } from './matmul.js';
export { logSoftmax, max, mean, softmax, sum } from './reduce.js';
export { concat, flatten, permute, reshape, transpose } from './shape.js';
