/**
 * A problem with an ONNX file or with a model that cannot be expressed in ONNX: one sentence that
 * names what is at fault (the byte offset, the node and its op type, the layer).
 *
 * @example
 * ```ts
 * try {
 *   await importOnnx('model.onnx');
 * } catch (e) {
 *   if (e instanceof OnnxError) console.error(e.message);
 * }
 * ```
 */
export class OnnxError extends Error {
  /**
   * @param message - What is wrong, naming the node, layer or byte offset.
   * @param options - `cause`: the error this one explains.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OnnxError';
  }
}
