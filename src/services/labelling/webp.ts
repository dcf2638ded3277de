// The WebP (RIFF) container, at the chunk level, for the two labels that add a
// chunk to it: the XMP label (xmp.ts, an "XMP " chunk) and the C2PA manifest
// (webp-asset.ts, a "C2PA" chunk). Chunks other than the one written are
// copied as they are, so the image data (VP8/VP8L/ALPH/ANIM…) cannot change.
// https://developers.google.com/speed/webp/docs/riff_container

export class UnlabelledFormatError extends Error {}

export interface RiffChunk {
  fourcc: string;
  data: Buffer;
}

/** VP8X flag bits (the first byte of its payload). */
export const VP8X_XMP = 0x04;
const VP8X_ALPHA = 0x10;

/** The top-level chunks of a WebP file (after "RIFF", size, "WEBP"), their payloads as views of `bytes`. */
export function readWebpChunks(bytes: Uint8Array): RiffChunk[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WEBP') {
    throw new UnlabelledFormatError('not a WebP file');
  }
  const chunks: RiffChunk[] = [];
  for (let at = 12; at + 8 <= buf.length;) {
    const fourcc = buf.toString('latin1', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    if (at + 8 + size > buf.length) throw new UnlabelledFormatError('truncated WebP chunk');
    chunks.push({ fourcc, data: buf.subarray(at + 8, at + 8 + size) });
    at += 8 + size + (size % 2); // chunks are padded to an even length
  }
  return chunks;
}

/** Canvas size (and alpha) of a simple-format WebP's single image chunk. */
function simpleWebpCanvas(fourcc: string, data: Buffer): { width: number; height: number; alpha: boolean } {
  if (fourcc === 'VP8 ' && data.length >= 10 && data[3] === 0x9d && data[4] === 0x01 && data[5] === 0x2a) {
    return { width: data.readUInt16LE(6) & 0x3fff, height: data.readUInt16LE(8) & 0x3fff, alpha: false };
  }
  if (fourcc === 'VP8L' && data.length >= 5 && data[0] === 0x2f) {
    const bits = data.readUInt32LE(1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alpha: ((bits >>> 28) & 1) === 1 };
  }
  throw new UnlabelledFormatError('WebP without a VP8 or VP8L image chunk');
}

/**
 * `chunks` in the extended format, which any chunk besides the image data
 * needs: a simple-format file (one VP8/VP8L chunk) gets a VP8X header with the
 * canvas size read from its frame; `flags` are set on the VP8X (a copy: the
 * input's bytes are not written to).
 */
export function extendedWebpChunks(chunks: RiffChunk[], flags = 0): RiffChunk[] {
  const out = [...chunks];
  const at = out.findIndex((c) => c.fourcc === 'VP8X');
  let vp8x: RiffChunk;
  if (at < 0) {
    const image = out[0];
    if (!image) throw new UnlabelledFormatError('empty WebP');
    const canvas = simpleWebpCanvas(image.fourcc, image.data);
    const data = Buffer.alloc(10);
    data[0] = canvas.alpha ? VP8X_ALPHA : 0;
    data.writeUIntLE(canvas.width - 1, 4, 3);
    data.writeUIntLE(canvas.height - 1, 7, 3);
    vp8x = { fourcc: 'VP8X', data };
    out.unshift(vp8x);
  } else {
    vp8x = { fourcc: 'VP8X', data: Buffer.from(out[at]!.data) };
    out[at] = vp8x;
  }
  vp8x.data[0] = vp8x.data[0]! | flags;
  return out;
}

/** Bytes a chunk with a `size`-byte payload takes in the file: header, payload, pad byte when odd. */
export function riffChunkLength(size: number): number {
  return 8 + size + (size % 2);
}

/** A WebP file of `chunks`, the RIFF size set to what follows it. */
export function writeWebp(chunks: RiffChunk[]): Buffer {
  const total = 12 + chunks.reduce((n, c) => n + riffChunkLength(c.data.length), 0);
  const out = Buffer.alloc(total); // zero-filled: pad bytes are 0
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(total - 8, 4);
  out.write('WEBP', 8, 'latin1');
  let at = 12;
  for (const c of chunks) {
    out.write(c.fourcc, at, 'latin1');
    out.writeUInt32LE(c.data.length, at + 4);
    c.data.copy(out, at + 8);
    at += riffChunkLength(c.data.length);
  }
  return out;
}
