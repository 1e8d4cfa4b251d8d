/**
 * What a file that is not a safetensors model looks like, from its first bytes, so that the error
 * says what the file is and what to do instead of only "not a valid safetensors file".
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Reads up to `n` bytes from the start of a file (fewer for a short file, none when unreadable). */
function head(path: string, n: number): Uint8Array {
  const buf = new Uint8Array(n);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return buf.subarray(0, 0);
  }
  try {
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } catch {
    return buf.subarray(0, 0);
  } finally {
    closeSync(fd);
  }
}

const startsWith = (b: Uint8Array, bytes: number[]): boolean =>
  b.length >= bytes.length && bytes.every((x, i) => b[i] === x);

/**
 * A sentence saying what the file looks like and what to do, or `undefined` when it looks like
 * nothing recognisable (a damaged safetensors file, say).
 *
 * @example
 * ```ts
 * describeForeignFile('cat.png'); // 'it is a PNG image, not a model file; …'
 * ```
 */
export function describeForeignFile(path: string): string | undefined {
  const b = head(path, 64);
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47])) return imageHint('a PNG image');
  if (startsWith(b, [0xff, 0xd8, 0xff])) return imageHint('a JPEG image');
  if (startsWith(b, [0x47, 0x49, 0x46, 0x38])) return imageHint('a GIF image');
  if (startsWith(b, [0x52, 0x49, 0x46, 0x46]) && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP')
    return imageHint('a WebP image');
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04]))
    return 'it is a ZIP archive, as PyTorch saves .pt/.pth checkpoints with torch.save; dlf reads safetensors: in Python, save the weights with safetensors.torch.save_file(model.state_dict(), "model.safetensors")';
  if (b[0] === 0x80 && b[1] !== undefined && b[1] >= 2 && b[1] <= 5)
    return 'it is a Python pickle, as older PyTorch versions save checkpoints; dlf never unpickles files (that can run code): save the weights with safetensors.torch.save_file(model.state_dict(), "model.safetensors")';
  if (startsWith(b, [0x1f, 0x8b])) return 'it is gzip-compressed; decompress it first';
  const text = new TextDecoder('utf-8', { fatal: false }).decode(b).trimStart();
  if (text.startsWith('{') || text.startsWith('['))
    return 'it is a JSON text, not a trained model: a model description is trained with dlf train --model <file.json>, which writes model.safetensors';
  // ONNX: a protobuf ModelProto, whose first field is ir_version (field 1, varint: byte 0x08).
  if (b[0] === 0x08 && b[1] !== undefined && b[1] > 0 && b[1] < 32 && b[2] === 0x12)
    return 'it looks like an ONNX model (a protobuf ModelProto); dlf model files are safetensors with a dlf architecture';
  return undefined;
}

function imageHint(kind: string): string {
  return `it is ${kind}, not a model file; to classify it, pass it as the image: dlf predict <model.safetensors> <image>`;
}
