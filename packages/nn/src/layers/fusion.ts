/** When consecutive layers run as one fused native op (shared by Sequential and GraphModule). */
import type { Tensor } from '@dlf/tensor-core';
import * as F from '../functional.js';
import type { Module } from '../module.js';
import type { Conv2d } from './conv.js';
import { MaxPool2d } from './pool.js';

/** A 2x2 max pool with stride 2 and no padding (the fused conv op can apply it). */
export function isMaxPool2x2(layer: Module | undefined): boolean {
  if (!(layer instanceof MaxPool2d)) return false;
  const { kernelSize: k, stride: s, padding: p } = layer;
  return k[0] === 2 && k[1] === 2 && s[0] === 2 && s[1] === 2 && p[0] === 0 && p[1] === 0;
}

// The fused op pools a conv output of at least 2x2 (smaller inputs keep the separate ops and their errors).
export function convOutputAtLeast2x2(conv: Conv2d, x: Tensor): boolean {
  if (x.rank !== 4) return false;
  const side = (d: 0 | 1): number =>
    F.convOutputSize(x.shape[2 + d]!, conv.kernelSize[d], conv.stride[d], conv.padding[d], conv.dilation[d]);
  return side(0) >= 2 && side(1) >= 2;
}
