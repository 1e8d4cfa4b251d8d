/**
 * The errors of the safetensors reader: one class per rule of the format, all under
 * {@link SafetensorsError}.
 */

/** The rule a {@link SafetensorsError} reports; each has its own error class. */
export type SafetensorsErrorCode =
  | 'HeaderTooSmall'
  | 'HeaderTooLarge'
  | 'InvalidHeaderLength'
  | 'InvalidHeader'
  | 'DuplicateKey'
  | 'InvalidHeaderDeserialization'
  | 'InvalidOffset'
  | 'ValidationOverflow'
  | 'MisalignedSlice'
  | 'TensorInvalidInfo'
  | 'MetadataIncompleteBuffer'
  | 'UnsupportedDType'
  | 'UnsupportedShape';

/**
 * The base class of every error about the content of a safetensors file. `code` names the rule
 * (the reference implementation's error name where it has one), `file` the file (or the `source`
 * given to {@link parseSafetensors}), and `tensor` the tensor concerned, when there is one.
 *
 * @example
 * ```ts
 * try {
 *   await loadSafetensors('model.safetensors');
 * } catch (e) {
 *   if (e instanceof SafetensorsError) console.error(e.code, e.file, e.tensor);
 *   else throw e; // an I/O error such as ENOENT
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /** The rule the file breaks. */
  readonly code: SafetensorsErrorCode;
  /** The file, or the `source` name given to {@link parseSafetensors}. */
  readonly file: string;
  /** The tensor concerned, when the rule is about one tensor. */
  readonly tensor: string | undefined;

  /**
   * @param code - the rule
   * @param file - the file name
   * @param detail - what is wrong, naming the tensor when there is one
   * @param tensor - the tensor concerned
   */
  constructor(code: SafetensorsErrorCode, file: string, detail: string, tensor?: string) {
    super(`${file}: ${detail} (${code})`);
    this.name = new.target.name;
    this.code = code;
    this.file = file;
    this.tensor = tensor;
  }
}

/**
 * The file is shorter than the 8 bytes of the header size.
 *
 * @example
 * ```ts
 * parseSafetensors(new Uint8Array(3)); // throws HeaderTooSmallError
 * ```
 */
export class HeaderTooSmallError extends SafetensorsError {
  declare readonly code: 'HeaderTooSmall';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('HeaderTooSmall', file, detail);
  }
}

/**
 * The header size `N` is above 100,000,000 bytes (the reference's cap against denial of service).
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(16);
 * new DataView(bytes.buffer).setBigUint64(0, 2n ** 40n, true);
 * parseSafetensors(bytes); // throws HeaderTooLargeError
 * ```
 */
export class HeaderTooLargeError extends SafetensorsError {
  declare readonly code: 'HeaderTooLarge';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('HeaderTooLarge', file, detail);
  }
}

/**
 * `8 + N` is past the end of the file.
 *
 * @example
 * ```ts
 * parseSafetensors(new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0, 123, 125])); // throws InvalidHeaderLengthError
 * ```
 */
export class InvalidHeaderLengthError extends SafetensorsError {
  declare readonly code: 'InvalidHeaderLength';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('InvalidHeaderLength', file, detail);
  }
}

/**
 * The header is not valid UTF-8, does not begin with `{`, or is not a well-formed JSON object.
 *
 * @example
 * ```ts
 * parseSafetensors(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 91, 93, 32, 32, 32, 32, 32, 32])); // '[]': InvalidHeaderError
 * ```
 */
export class InvalidHeaderError extends SafetensorsError {
  declare readonly code: 'InvalidHeader';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('InvalidHeader', file, detail);
  }
}

/**
 * A key appears twice in one JSON object of the header (at any level). `JSON.parse` would silently
 * keep the last one; other readers may keep the first, so such files are ambiguous.
 *
 * @example
 * ```ts
 * // header {"a":{...},"a":{...}}
 * try { parseSafetensors(bytes); } catch (e) { if (e instanceof DuplicateKeyError) console.log(e.key); }
 * ```
 */
export class DuplicateKeyError extends SafetensorsError {
  declare readonly code: 'DuplicateKey';
  /** The repeated key. */
  readonly key: string;
  /**
   * @param file - the file name
   * @param detail - what is wrong
   * @param key - the repeated key
   * @param tensor - the tensor whose entry holds the key, or the repeated tensor name
   */
  constructor(file: string, detail: string, key: string, tensor?: string) {
    super('DuplicateKey', file, detail, tensor);
    this.key = key;
  }
}

/**
 * The header is a JSON object of the wrong form: a tensor entry that is not
 * `{"dtype": KNOWN, "shape": [u64...], "data_offsets": [u64, u64]}`, or a `__metadata__` that is not
 * an object of strings.
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F31","shape":[],"data_offsets":[0,4]}}
 * parseSafetensors(bytes); // throws InvalidHeaderDeserializationError (unknown dtype)
 * ```
 */
export class InvalidHeaderDeserializationError extends SafetensorsError {
  declare readonly code: 'InvalidHeaderDeserialization';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor?: string) {
    super('InvalidHeaderDeserialization', file, detail, tensor);
  }
}

/**
 * Sorted by `data_offsets`, the tensors do not cover the data buffer contiguously from 0: a gap,
 * an overlap, or an end before its begin.
 *
 * @example
 * ```ts
 * // header {"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}: a gap at 0
 * parseSafetensors(bytes); // throws InvalidOffsetError with tensor 'a'
 * ```
 */
export class InvalidOffsetError extends SafetensorsError {
  declare readonly code: 'InvalidOffset';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('InvalidOffset', file, detail, tensor);
  }
}

/**
 * A tensor's element count or byte size overflows 64 bits, or a dimension is above
 * `Number.MAX_SAFE_INTEGER` (JavaScript could not hold it exactly).
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}
 * parseSafetensors(bytes); // throws ValidationOverflowError
 * ```
 */
export class ValidationOverflowError extends SafetensorsError {
  declare readonly code: 'ValidationOverflow';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('ValidationOverflow', file, detail, tensor);
  }
}

/**
 * A tensor of a sub-byte dtype (F4, F6_*) does not end on a byte boundary.
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}: 12 bits
 * parseSafetensors(bytes); // throws MisalignedSliceError
 * ```
 */
export class MisalignedSliceError extends SafetensorsError {
  declare readonly code: 'MisalignedSlice';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('MisalignedSlice', file, detail, tensor);
  }
}

/**
 * A tensor's byte range (`end - begin`) differs from `shape` × dtype size.
 *
 * @example
 * ```ts
 * // header {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}: needs 8 bytes
 * parseSafetensors(bytes); // throws TensorInvalidInfoError
 * ```
 */
export class TensorInvalidInfoError extends SafetensorsError {
  declare readonly code: 'TensorInvalidInfo';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('TensorInvalidInfo', file, detail, tensor);
  }
}

/**
 * The tensors do not end exactly at the end of the file: bytes are missing, or trailing bytes
 * follow the last tensor (which would allow polyglot files). Also thrown when a file shrinks while
 * it is being loaded.
 *
 * @example
 * ```ts
 * const ok = serializeSafetensors({ w: tensor([1, 2]) });
 * parseSafetensors(ok.subarray(0, ok.length - 1)); // throws MetadataIncompleteBufferError
 * ```
 */
export class MetadataIncompleteBufferError extends SafetensorsError {
  declare readonly code: 'MetadataIncompleteBuffer';
  /** @param file - the file name @param detail - what is wrong */
  constructor(file: string, detail: string) {
    super('MetadataIncompleteBuffer', file, detail);
  }
}

/**
 * The file is valid but holds a tensor of a dtype dlf tensors cannot hold (only F32, I32 and U8).
 *
 * @example
 * ```ts
 * try { await loadSafetensors('bf16.safetensors'); }
 * catch (e) { if (e instanceof UnsupportedDTypeError) console.log(e.tensor, e.dtype); }
 * ```
 */
export class UnsupportedDTypeError extends SafetensorsError {
  declare readonly code: 'UnsupportedDType';
  /** The file's dtype name, e.g. `'BF16'`. */
  readonly dtype: string;
  /**
   * @param file - the file name
   * @param detail - what is wrong
   * @param tensor - the tensor
   * @param dtype - the file's dtype name
   */
  constructor(file: string, detail: string, tensor: string, dtype: string) {
    super('UnsupportedDType', file, detail, tensor);
    this.dtype = dtype;
  }
}

/**
 * The file is valid but holds a tensor of more than 16 dimensions, the most dlf tensors have.
 *
 * @example
 * ```ts
 * try { parseSafetensors(bytes); }
 * catch (e) { if (e instanceof UnsupportedShapeError) console.log(e.tensor); }
 * ```
 */
export class UnsupportedShapeError extends SafetensorsError {
  declare readonly code: 'UnsupportedShape';
  /** @param file - the file name @param detail - what is wrong @param tensor - the tensor */
  constructor(file: string, detail: string, tensor: string) {
    super('UnsupportedShape', file, detail, tensor);
  }
}
