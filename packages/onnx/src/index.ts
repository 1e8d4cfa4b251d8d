/**
 * `@dlf/onnx`: dlf models to and from ONNX, the standard file that onnxruntime (Node, web, C++,
 * Python), phones and PyTorch read and write. Export writes opset 13–17 with BatchNorm in inference
 * form (or folded) and the class names, input shape and preprocessing in `metadata_props`; import
 * turns a model of dlf's operator subset (as `torch.onnx.export` writes them) into a trainable model.
 * The protobuf codec is our own: no dependencies, no install scripts, and bounded decoding that
 * gives hostile files a clear {@link OnnxError}.
 *
 * @example
 * ```ts
 * import { exportOnnx, importOnnx } from '@dlf/onnx';
 * const bytes = exportOnnx(seedCnn(), { inputShape: [3, 32, 32] });
 * const { model } = await importOnnx(bytes);
 * ```
 *
 * @module @dlf/onnx
 * @packageDocumentation
 */
export { OnnxError } from './errors.js';
export { type ExportOptions, exportOnnx, exportOnnxFile, irVersionFor, OPSETS } from './export/export.js';
export { IMPORT_OPSETS, type ImportedModel, type ImportOptions, importOnnx } from './import/import.js';
export { buildModel, MODEL_INPUT, type ModelNode, modelNodes, type NodeList } from './nodes.js';
export { decodeModel } from './proto/decode.js';
export {
  AttrType,
  type AttributeProto,
  DataType,
  encodeModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OpsetId,
  type StringEntry,
  type TensorProto,
  tensorProto,
  type ValueInfoProto,
} from './proto/onnx.js';
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './proto/wire.js';
