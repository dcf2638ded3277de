// Where finished images live. The upstream deletes outputs after an hour, so
// the worker copies every output here the moment a job completes. Content-
// addressed by sha256: identical outputs (an exact rerun) share one file.
import { createHash } from 'node:crypto';
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
};

async function dimensions(bytes: Buffer): Promise<{ width: number | null; height: number | null }> {
  try {
    const meta = await sharp(bytes).metadata();
    return { width: meta.width ?? null, height: meta.height ?? null };
  } catch {
    // Not an image sharp can read: the bytes are still the job's output and are kept.
    return { width: null, height: null };
  }
}

export class LocalArtifactStore implements ArtifactStore {
  constructor(private readonly dir: string) {}

  async put(bytes: Buffer, mimeType: string): Promise<StoredArtifact> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = `${sha256}.${EXTENSIONS[mimeType] ?? 'bin'}`;
    const path = join(this.dir, key.slice(0, 2), key);
    const exists = await stat(path).then(() => true, () => false);
    if (!exists) {
      await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
      // Write then rename, so a reader never sees half a file.
      const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    }
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
