// Where images live: outputs and inline inputs. The upstream deletes outputs
// after an hour, so the worker copies every output here the moment a job
// completes; a create stores each inline input image here (input-artifacts.ts)
// instead of in the job row. Content-addressed by sha256: identical images (an
// exact rerun's output, one photo sent with many jobs) share one file.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import type { ArtifactStoreKind } from '../config.js';

export interface StoredArtifact {
  key: string;
  sha256: string;
  bytes: number;
  mimeType: string;
  width: number | null;
  height: number | null;
}

/**
 * An output stored for a job whose completion is not recorded yet: the worker
 * writes it before the COMPLETED transition and drops it after, so a worker
 * that takes the job over after a database outage (or a crash) completes it
 * from here instead of failing it (worker.ts).
 */
export interface OutputReceipt {
  artifact: StoredArtifact;
  /** The upstream's answer, for the job's `result`. */
  upstream: unknown;
}

/**
 * Where artifacts and receipts are kept (ARTIFACT_STORE, artifact-stores.ts):
 * this folder, PostgreSQL (postgres-artifacts.ts) or an S3-compatible bucket
 * (s3-artifacts.ts). Every store uses the same keys, so artifacts move between
 * them unchanged (artifact-move.ts).
 */
export interface ArtifactStore {
  readonly kind: ArtifactStoreKind;
  put(bytes: Buffer, mimeType: string): Promise<StoredArtifact>;
  open(key: string): Promise<Readable | null>;
  read(key: string): Promise<Buffer | null>;
  /** Erases the artifact (job-erasure.ts decides when no job needs it any more); a missing one is not an error. */
  remove(key: string): Promise<void>;
  /** Every artifact key, each once (for moves between stores). */
  keys(): AsyncIterable<string>;
  putReceipt(jobId: string, receipt: OutputReceipt): Promise<void>;
  /** The job's receipt, or null when there is none or its artifact is gone (nothing to complete the job with). */
  readReceipt(jobId: string): Promise<OutputReceipt | null>;
  dropReceipt(jobId: string): Promise<void>;
  /** The job ids that hold a receipt (for moves between stores). */
  receipts(): AsyncIterable<string>;
  /** Releases the store's connections; the store is not used after. */
  close(): Promise<void>;
}

/** A job id as receipts are named by: anything else must not become a path, an object name or a row. */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
};

/** An artifact's key, `<sha256>.<ext>`: what every store accepts, so no other string becomes a path or an object name. */
export const ARTIFACT_KEY = /^[0-9a-f]{64}\.[a-z]+$/;

/** The key and sha256 that `bytes` of `mimeType` are stored under, in every store. */
export function contentKey(bytes: Buffer, mimeType: string): { key: string; sha256: string } {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { key: `${sha256}.${EXTENSIONS[mimeType] ?? 'bin'}`, sha256 };
}

/** The MIME type a key's extension stands for, so a copy of the bytes gets the same key. */
export function mimeTypeOfKey(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1);
  return Object.entries(EXTENSIONS).find(([, e]) => e === ext)?.[0] ?? 'application/octet-stream';
}

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
export async function dimensions(bytes: Buffer): Promise<{ width: number | null; height: number | null }> {
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
  readonly kind = 'local';
  /** Shard folders known to exist, so each is created once per process, not checked on every put. */
  private readonly folders = new Set<string>();

  constructor(private readonly dir: string) {}

  async put(bytes: Buffer, mimeType: string): Promise<StoredArtifact> {
    const { key, sha256 } = contentKey(bytes, mimeType);
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
    return ARTIFACT_KEY.test(key) ? join(this.dir, key.slice(0, 2), key) : null;
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

  /** Receipts live beside the artifacts (API and workers share the folder), one small JSON file per job. */
  private receiptPath(jobId: string): string {
    if (!JOB_ID.test(jobId)) throw new Error('not a job id');
    return join(this.dir, 'receipts', `${jobId}.json`);
  }

  async putReceipt(jobId: string, receipt: OutputReceipt): Promise<void> {
    const path = this.receiptPath(jobId);
    await mkdir(join(this.dir, 'receipts'), { recursive: true });
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(receipt));
    await rename(tmp, path);
  }

  async readReceipt(jobId: string): Promise<OutputReceipt | null> {
    const text = await readFile(this.receiptPath(jobId), 'utf8').catch(() => null);
    if (text === null) return null;
    const receipt = JSON.parse(text) as OutputReceipt;
    // The receipt names an artifact; without its bytes there is nothing to complete the job with.
    const path = this.pathOf(receipt.artifact?.key ?? '');
    const present = path !== null && (await stat(path).then(() => true, () => false));
    return present ? receipt : null;
  }

  async dropReceipt(jobId: string): Promise<void> {
    await rm(this.receiptPath(jobId), { force: true });
  }

  async *receipts(): AsyncIterable<string> {
    const names = await readdir(join(this.dir, 'receipts')).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const id = name.slice(0, -'.json'.length);
      if (name.endsWith('.json') && JOB_ID.test(id)) yield id;
    }
  }

  async remove(key: string): Promise<void> {
    const path = this.pathOf(key);
    if (path) await rm(path, { force: true });
  }

  /** Every stored key (not the temporary files of puts in flight). */
  async *keys(): AsyncIterable<string> {
    const shards = await readdir(this.dir).catch(() => [] as string[]);
    for (const shard of shards.filter((s) => /^[0-9a-f]{2}$/.test(s)).sort()) {
      const names = await readdir(join(this.dir, shard)).catch(() => [] as string[]);
      yield* names.filter((n) => ARTIFACT_KEY.test(n)).sort();
    }
  }

  async close(): Promise<void> {}
}
