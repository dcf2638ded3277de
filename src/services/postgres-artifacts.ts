// Artifacts in PostgreSQL itself (ARTIFACT_STORE=postgres): one bytea row per
// key in `artifacts`, and output receipts in `artifact_receipts`, so API and
// workers on different hosts share outputs and inline inputs with nothing but
// the database. Its own small pool, so a large download never holds one of the
// job pool's connections. A receipt here cannot outlast a database outage the
// way a file or an object does (it is written when the database is away); the
// job then waits for the next claim and polls its output again.
import pg from 'pg';
import { Readable } from 'node:stream';
import { componentLogger } from '../util/logger.js';
import { ARTIFACT_KEY, contentKey, dimensions, JOB_ID, type ArtifactStore, type OutputReceipt, type StoredArtifact } from './artifacts.js';

const log = componentLogger('artifacts');

/** Bytes per query when streaming: the column is stored EXTERNAL (uncompressed), so a slice reads only its TOAST chunks. */
const SLICE_BYTES = 1024 * 1024;
/** Rows per query when listing keys or receipts. */
const PAGE = 1000;

export class PostgresArtifactStore implements ArtifactStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string, opts: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: opts.max ?? 4 });
    // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
    this.pool.on('error', (err) => log.warn({ err }, 'idle client error'));
  }

  async put(bytes: Buffer, mimeType: string): Promise<StoredArtifact> {
    const { key, sha256 } = contentKey(bytes, mimeType);
    // Same key, same bytes: a concurrent or repeated put of it does nothing.
    await this.pool.query('INSERT INTO artifacts (key, content) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, bytes]);
    return { key, sha256, bytes: bytes.length, mimeType, ...(await dimensions(bytes)) };
  }

  /**
   * Streams the bytes in 1 MiB slices, one query each, so a download holds at
   * most a slice in memory. A row deleted while streaming ends the stream with
   * an error (the HTTP response is then cut short, never padded).
   */
  async open(key: string): Promise<Readable | null> {
    if (!ARTIFACT_KEY.test(key)) return null;
    const { rows: [row] } = await this.pool.query<{ size: number }>(
      'SELECT octet_length(content) AS size FROM artifacts WHERE key = $1', [key]);
    if (!row) return null;
    const { pool } = this;
    const size = Number(row.size);
    async function* slices(): AsyncGenerator<Buffer> {
      for (let offset = 0; offset < size; offset += SLICE_BYTES) {
        const { rows: [slice] } = await pool.query<{ part: Buffer }>(
          'SELECT substring(content FROM $2 FOR $3) AS part FROM artifacts WHERE key = $1', [key, offset + 1, SLICE_BYTES]);
        if (!slice) throw new Error(`artifact ${key} was deleted while it was being read`);
        yield slice.part;
      }
    }
    return Readable.from(slices(), { objectMode: false });
  }

  async read(key: string): Promise<Buffer | null> {
    if (!ARTIFACT_KEY.test(key)) return null;
    const { rows: [row] } = await this.pool.query<{ content: Buffer }>('SELECT content FROM artifacts WHERE key = $1', [key]);
    return row?.content ?? null;
  }

  async remove(key: string): Promise<void> {
    if (!ARTIFACT_KEY.test(key)) return;
    await this.pool.query('DELETE FROM artifacts WHERE key = $1', [key]);
  }

  /** Every key, in key order, a page at a time. */
  keys(): AsyncIterable<string> {
    return this.pages('SELECT key AS id FROM artifacts WHERE key > $1 ORDER BY key LIMIT $2');
  }

  async putReceipt(jobId: string, receipt: OutputReceipt): Promise<void> {
    if (!JOB_ID.test(jobId)) throw new Error('not a job id');
    await this.pool.query(
      `INSERT INTO artifact_receipts (job_id, receipt) VALUES ($1, $2)
       ON CONFLICT (job_id) DO UPDATE SET receipt = EXCLUDED.receipt, created_at = now()`,
      [jobId, JSON.stringify(receipt)],
    );
  }

  async readReceipt(jobId: string): Promise<OutputReceipt | null> {
    if (!JOB_ID.test(jobId)) throw new Error('not a job id');
    // Only with its artifact: without the bytes there is nothing to complete the job with.
    const { rows: [row] } = await this.pool.query<{ receipt: OutputReceipt }>(
      `SELECT r.receipt FROM artifact_receipts r
        WHERE r.job_id = $1 AND EXISTS (SELECT 1 FROM artifacts a WHERE a.key = r.receipt->'artifact'->>'key')`,
      [jobId],
    );
    return row?.receipt ?? null;
  }

  async dropReceipt(jobId: string): Promise<void> {
    if (!JOB_ID.test(jobId)) throw new Error('not a job id');
    await this.pool.query('DELETE FROM artifact_receipts WHERE job_id = $1', [jobId]);
  }

  receipts(): AsyncIterable<string> {
    return this.pages('SELECT job_id::text AS id FROM artifact_receipts WHERE job_id::text > $1 ORDER BY job_id::text LIMIT $2');
  }

  /** Keyset pages of `sql` (after $1, at most $2 rows of `id`). */
  private async *pages(sql: string): AsyncIterable<string> {
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query<{ id: string }>(sql, [after, PAGE]);
      for (const r of rows) yield r.id;
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
