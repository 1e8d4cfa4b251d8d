/**
 * Small hostile fixtures, generated: image headers that announce huge sizes, compressed streams
 * that inflate far past what their header says, for the hardening tests (and the fuzzers' seeds).
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';

const MB = 1 << 20;

/**
 * A raw deflate stream of `mb` MiB of zero bytes, built from one compressed megabyte repeated (about
 * 1 KB per MiB), so a gigabyte bomb costs a megabyte to make.
 */
export function zeroDeflateRaw(mb: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(MB), { finishFlush: constants.Z_FULL_FLUSH });
  const end = deflateRawSync(Buffer.alloc(0));
  return Buffer.concat([...Array.from({ length: mb }, () => block), end]);
}

/** A zlib stream (as in PNG's IDAT) of `mb` MiB of zeros, with a correct Adler-32. */
export function zeroZlib(mb: number): Buffer {
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((mb * MB) % 65521) * 65536 + 1) >>> 0);
  return Buffer.concat([Buffer.from([0x78, 0x9c]), zeroDeflateRaw(mb), adler]);
}

/** A gzip stream of `head` followed by `mb` MiB of zeros. */
export function gzipWithZeros(head: Buffer, mb: number): Buffer {
  const headRaw = deflateRawSync(head, { finishFlush: constants.Z_FULL_FLUSH });
  let crc = crc32(head);
  const zero = Buffer.alloc(MB);
  for (let i = 0; i < mb; i++) crc = crc32(zero, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE((head.length + mb * MB) >>> 0, 4);
  const gzHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  return Buffer.concat([gzHeader, headRaw, zeroDeflateRaw(mb), trailer]);
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A PNG with the given header size (8-bit grey) and IDAT payload, every CRC correct. */
export function pngWith(width: number, height: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An idx header (unsigned bytes) for `dims`. */
export function idxHeader(dims: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => {
    h.writeUInt32BE(d, 4 + 4 * i);
  });
  return h;
}

/** Peak resident memory of this process so far, in bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
