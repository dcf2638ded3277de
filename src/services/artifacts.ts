// Where images live: outputs and inline inputs. The upstream deletes outputs
// after an hour, so the worker copies every output here the moment a job
// completes; a create stores each inline input image here (input-artifacts.ts)
// instead of in the job row. Content-addressed by sha256: identical images (an
// exact rerun's output, one photo sent with many jobs) share one file.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import sharp from 'sharp';

export interface StoredArtifact {
  key: string;
  sha256: string;
  bytes: number;
  mimeType: string;
  width: number | null;
  height: number | null;
}

export interface ArtifactStore {
  put(bytes: Buffer, mimeType: string): Promise<StoredArtifact>;
  open(key: string): Promise<Readable | null>;
  read(key: string): Promise<Buffer | null>;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
};

/** Width and height from a PNG's IHDR or a JPEG's SOF marker; null for anything else. */
export function headerDimensions(bytes: Buffer): { width: number; height: number } | null {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.toString('latin1', 12, 16) === 'IHDR') {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    for (let i = 2; i + 9 < bytes.length;) {
      if (bytes[i] !== 0xff) return null;
      const marker = bytes[i + 1]!;
      if (marker === 0xff) { i += 1; continue; } // fill byte
      // SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
      }
      i += 2 + bytes.readUInt16BE(i + 2);
    }
  }
  return null;
}

// Read from the header where the format allows: sharp answers the same but
// through libvips' thread pool, a thread hop on every completed job.
async function dimensions(bytes: Buffer): Promise<{ width: number | null; height: number | null }> {
  const fromHeader = headerDimensions(bytes);
  if (fromHeader) return fromHeader;
  try {
    const meta = await sharp(bytes).metadata();
    return { width: meta.width ?? null, height: meta.height ?? null };
  } catch {
    // Not an image sharp can read: the bytes are still the job's output and are kept.
    return { width: null, height: null };
  }
}

export class LocalArtifactStore implements ArtifactStore {
  /** Shard folders known to exist, so each is created once per process, not checked on every put. */
  private readonly folders = new Set<string>();

  constructor(private readonly dir: string) {}

  async put(bytes: Buffer, mimeType: string): Promise<StoredArtifact> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = `${sha256}.${EXTENSIONS[mimeType] ?? 'bin'}`;
    const folder = join(this.dir, key.slice(0, 2));
    if (!this.folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      this.folders.add(folder);
    }
    // Write then rename, so a reader never sees half a file. The name is the
    // content's hash, so replacing an existing copy changes nothing, and is
    // cheaper than asking first on every put.
    const path = join(folder, key);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, bytes).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      // The folder went away under a running process: make it again.
      await mkdir(folder, { recursive: true });
      await writeFile(tmp, bytes);
    });
    await rename(tmp, path);
    return { key, sha256, bytes: bytes.length, mimeType, ...(await dimensions(bytes)) };
  }

  /** Keys are ours (sha256.ext); anything else must not become a path. */
  private pathOf(key: string): string | null {
    return /^[0-9a-f]{64}\.[a-z]+$/.test(key) ? join(this.dir, key.slice(0, 2), key) : null;
  }

  async open(key: string): Promise<Readable | null> {
    const path = this.pathOf(key);
    const exists = path && (await stat(path).then(() => true, () => false));
    return exists ? createReadStream(path) : null;
  }

  async read(key: string): Promise<Buffer | null> {
    const path = this.pathOf(key);
    return path ? readFile(path).catch(() => null) : null;
  }
}
