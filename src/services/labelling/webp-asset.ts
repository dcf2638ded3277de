// A WebP file as a c2pa-ts Asset, which the library lacks (it has JPEG, PNG,
// BMFF and MP3). The C2PA specification embeds the manifest store of a
// RIFF-based file in a top-level chunk with FourCC "C2PA"; like c2pa-rs (the
// reference implementation, which reads it back in the tests) it goes after
// every other chunk, the RIFF size covers it, an odd-length store is padded to
// an even length, and the data hash excludes the chunk's header and payload.
// Chunks besides the C2PA one are copied as they are (webp.ts), so the image
// data cannot change; a simple-format file gets the VP8X header the extended
// format needs for any extra chunk.
import type { Asset } from '@trustnxt/c2pa-ts/asset';
import { extendedWebpChunks, readWebpChunks, riffChunkLength, writeWebp } from './webp.js';

const C2PA_FOURCC = 'C2PA';

export class WebPAsset implements Asset {
  readonly mimeType = 'image/webp';
  private data: Uint8Array;
  /** Where the C2PA chunk starts (its header), and its payload's length; null: none (yet). */
  private manifest: { offset: number; length: number } | null = null;

  constructor(data: Uint8Array) {
    if (!WebPAsset.canRead(data)) throw new Error('Not a WebP file');
    this.data = data;
    this.manifest = WebPAsset.findManifest(data);
  }

  static canRead(buf: Uint8Array): boolean {
    if (buf.length < 12) return false;
    const head = Buffer.from(buf.buffer, buf.byteOffset, 12);
    return head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP';
  }

  /** The one C2PA chunk of `data`, if there is exactly one (two are ambiguous: neither is taken). */
  private static findManifest(data: Uint8Array): { offset: number; length: number } | null {
    let at = 12;
    const found: Array<{ offset: number; length: number }> = [];
    for (const chunk of readWebpChunks(data)) {
      if (chunk.fourcc === C2PA_FOURCC) found.push({ offset: at, length: chunk.data.length });
      at += riffChunkLength(chunk.data.length);
    }
    return found.length === 1 ? found[0]! : null;
  }

  getDataLength(): number {
    return this.data.length;
  }

  async getDataRange(start?: number, length?: number): Promise<Uint8Array> {
    if (start === undefined) return this.data;
    if (length === undefined) return this.data.subarray(start);
    return this.data.subarray(start, start + Math.min(length, this.data.length - start));
  }

  dumpInfo(): string {
    return ['WebP file:', ...readWebpChunks(this.data).map((c) => `Chunk ${c.fourcc} (payload length: ${c.data.length})`)].join('\n');
  }

  getManifestJUMBF(): Uint8Array | undefined {
    if (!this.manifest) return undefined;
    const start = this.manifest.offset + 8;
    return this.data.subarray(start, start + this.manifest.length);
  }

  async ensureManifestSpace(length: number): Promise<void> {
    if (this.manifest?.length === length) return;
    // Any manifest already there is dropped; a new one of `length` zero bytes goes last.
    const chunks = extendedWebpChunks(readWebpChunks(this.data).filter((c) => c.fourcc !== C2PA_FOURCC));
    const out = writeWebp([...chunks, { fourcc: C2PA_FOURCC, data: Buffer.alloc(length) }]);
    this.data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    this.manifest = { offset: out.length - riffChunkLength(length), length };
  }

  getHashExclusionRange(): { start: number; length: number } {
    if (!this.manifest) throw new Error('No manifest storage reserved');
    return { start: this.manifest.offset, length: 8 + this.manifest.length };
  }

  async writeManifestJUMBF(jumbf: Uint8Array): Promise<void> {
    if (!this.manifest || this.manifest.length !== jumbf.length) throw new Error('Wrong amount of space in asset');
    this.data.set(jumbf, this.manifest.offset + 8);
  }
}
