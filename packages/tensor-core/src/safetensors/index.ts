/**
 * safetensors files: a reader that enforces every rule of the reference implementation
 * (huggingface/safetensors `read_metadata` + `Metadata::validate`, in the same order) plus the gaps
 * it leaves open in JavaScript (leading `{`, duplicate keys, integers JavaScript cannot hold), and a
 * writer that lays files out exactly as the reference writer does.
 *
 * Layout: 8 bytes `N` (little-endian u64), `N` bytes of UTF-8 JSON header (starts with `{`, padded
 * with spaces), then the data buffer, entirely covered by the tensors' `data_offsets`.
 */
export {
  DuplicateKeyError,
  HeaderTooLargeError,
  HeaderTooSmallError,
  InvalidHeaderDeserializationError,
  InvalidHeaderError,
  InvalidHeaderLengthError,
  InvalidOffsetError,
  MetadataIncompleteBufferError,
  MisalignedSliceError,
  SafetensorsError,
  type SafetensorsErrorCode,
  TensorInvalidInfoError,
  UnsupportedDTypeError,
  UnsupportedShapeError,
  ValidationOverflowError,
} from './errors.js';
export {
  loadSafetensors,
  loadSafetensorsSync,
  parseSafetensors,
  type SafetensorsContents,
} from './read.js';
export {
  type SafetensorsInput,
  saveSafetensors,
  saveSafetensorsSync,
  serializeSafetensors,
} from './write.js';
