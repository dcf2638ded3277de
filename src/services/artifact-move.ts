// Copies every artifact of one store into another (npm run artifacts:move),
// e.g. from the local folder to PostgreSQL or S3 before API and workers move
// to separate hosts. Keys are the content's sha256, so each copy is checked
// against its own name: the source's bytes before writing, the destination's
// after. Output receipts (a job's output stored while its completion could
// not be recorded) move too, after the artifacts they name. Running it again
// copies only what is missing, so it can run while the service runs and once
// more after the switch.
import { createHash } from 'node:crypto';
import { mimeTypeOfKey, type ArtifactStore, type OutputReceipt } from './artifacts.js';

export interface MoveCounts {
  /** Keys listed in the source. */
  listed: number;
  /** Written to the destination and read back intact (a damaged copy there is replaced). */
  copied: number;
  /** Already in the destination, intact. */
  present: number;
  /** Not copied; each is reported through `onFailure`. */
  failed: number;
  /** Removed from the source after their copy was verified (with `deleteSource`). */
  deleted: number;
  /** Output receipts copied (each with its artifact in the destination); with `deleteSource`, dropped from the source. */
  receipts: number;
}

export interface MoveOptions {
  /** Delete each artifact from the source once its copy is verified. */
  deleteSource?: boolean;
  /** Artifacts in flight at once. */
  concurrency?: number;
  onFailure?: (key: string, reason: string) => void;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const intact = (key: string, bytes: Buffer | null) => bytes !== null && sha256(bytes) === key.slice(0, 64);

export async function moveArtifacts(from: ArtifactStore, to: ArtifactStore, opts: MoveOptions = {}): Promise<MoveCounts> {
  const counts: MoveCounts = { listed: 0, copied: 0, present: 0, failed: 0, deleted: 0, receipts: 0 };
  const fail = (key: string, reason: string) => {
    counts.failed += 1;
    opts.onFailure?.(key, reason);
  };

  async function moveOne(key: string): Promise<void> {
    const there = await to.read(key);
    if (intact(key, there)) {
      counts.present += 1;
    } else {
      const bytes = await from.read(key);
      if (bytes === null) return fail(key, 'gone from the source while moving');
      if (!intact(key, bytes)) return fail(key, `damaged in the source: its sha256 is ${sha256(bytes)}`);
      // A damaged copy in the destination would stay: PostgreSQL's put keeps the first row of a key.
      if (there !== null) await to.remove(key);
      const stored = await to.put(bytes, mimeTypeOfKey(key));
      if (stored.key !== key) return fail(key, `stored under another key (${stored.key})`);
      if (!intact(key, await to.read(key))) return fail(key, 'the copy read back does not match its sha256');
      counts.copied += 1;
    }
    if (opts.deleteSource) {
      await from.remove(key);
      counts.deleted += 1;
    }
  }

  // Receipts are read first, while their artifacts are still in the source (deleteSource removes them).
  // There are few: one per job whose completion could not be recorded, until it is.
  const receipts: Array<[string, OutputReceipt]> = [];
  for await (const jobId of from.receipts()) {
    const receipt = await from.readReceipt(jobId).catch((err: unknown) => {
      fail(`receipt ${jobId}`, (err as Error).message);
      return null;
    });
    // Null: its artifact is gone, or its job completed meanwhile; nothing to complete a job with.
    if (receipt) receipts.push([jobId, receipt]);
  }

  const keys = from.keys()[Symbol.asyncIterator]();
  // An async generator queues concurrent next() calls, so the runners share one listing.
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, async () => {
    for (let next = await keys.next(); !next.done; next = await keys.next()) {
      counts.listed += 1;
      await moveOne(next.value).catch((err: unknown) => fail(next.value, (err as Error).message));
    }
  }));

  // Receipts are written after the artifacts they name: one is readable only where its artifact is (readReceipt).
  for (const [jobId, receipt] of receipts) {
    try {
      await to.putReceipt(jobId, receipt);
      if ((await to.readReceipt(jobId)) === null) {
        await to.dropReceipt(jobId);
        fail(`receipt ${jobId}`, `its artifact ${receipt.artifact.key} is not in the destination`);
        continue;
      }
      counts.receipts += 1;
      if (opts.deleteSource) await from.dropReceipt(jobId);
    } catch (err) {
      fail(`receipt ${jobId}`, (err as Error).message);
    }
  }
  return counts;
}
