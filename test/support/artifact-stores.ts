// The three artifact stores for tests that run against each (ARTIFACT_STORE):
// a local folder, the test's PostgreSQL, and an S3-protocol server (s3rver)
// that the test process runs on loopback, port 0, with a bucket per use. And
// what a store holds, read underneath it (files, rows, objects), for tests
// that check an image is gone "the hard way".
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import type { Config } from '../../src/config.js';
import S3rver from 's3rver';

export const STORE_KINDS = ['local', 'postgres', 's3'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export const S3_CREDENTIALS = { S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' };

export interface S3Server {
  endpoint: string;
  /** A new, empty bucket; its name. */
  bucket(): Promise<string>;
  /** The environment of a service that keeps its artifacts in `bucket` here. */
  env(bucket: string): Record<string, string>;
  close(): Promise<void>;
}

export async function startS3Server(): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'swapyard-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: S3_CREDENTIALS.S3_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.S3_SECRET_ACCESS_KEY },
  });
  return {
    endpoint,
    async bucket() {
      const name = `swapyard-${randomBytes(4).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    env: (bucket) => ({ ARTIFACT_STORE: 's3', S3_BUCKET: bucket, S3_ENDPOINT: endpoint, ...S3_CREDENTIALS }),
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The environment of a service with its artifacts in `kind` (an s3rver is needed for s3). */
export async function storeEnv(kind: StoreKind, s3?: S3Server): Promise<Record<string, string>> {
  if (kind === 's3') {
    if (!s3) throw new Error('storeEnv(s3) needs a running S3 server');
    return s3.env(await s3.bucket());
  }
  return { ARTIFACT_STORE: kind };
}

/** Every file under `root`, at any depth. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * Everything the configured store of a service holds, read beneath the store
 * (not through it): each file under the artifacts folder, each row of the
 * artifacts and receipts tables, or each object in the bucket.
 */
export async function rawStoreContents(config: Config, databaseUrl: string): Promise<Buffer[]> {
  switch (config.artifacts.store) {
    case 'local':
      // A file removed between the listing and its read (an erasure under way) is not there.
      return (await Promise.all((await filesUnder(join(config.dataDir, 'artifacts'))).map((f) => readFile(f).catch(() => null))))
        .filter((b) => b !== null) as Buffer[];
    case 'postgres': {
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
      try {
        const { rows } = await pool.query<{ bytes: Buffer }>(
          `SELECT content AS bytes FROM artifacts UNION ALL SELECT convert_to(receipt::text, 'UTF8') FROM artifact_receipts`);
        return rows.map((r) => r.bytes);
      } finally {
        await pool.end();
      }
    }
    case 's3': {
      const s3 = config.artifacts.s3!;
      const client = new S3Client({
        endpoint: s3.endpoint!, region: s3.region, forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId!, secretAccessKey: s3.secretAccessKey! },
      });
      try {
        const out: Buffer[] = [];
        for await (const page of paginateListObjectsV2({ client }, { Bucket: s3.bucket })) {
          for (const o of page.Contents ?? []) {
            // An object removed between the listing and its read (an erasure under way) is not there.
            const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: o.Key! })).catch((err: Error) => {
              if (err.name === 'NoSuchKey') return null;
              throw err;
            });
            if (res) out.push(Buffer.from(await res.Body!.transformToByteArray()));
          }
        }
        return out;
      } finally {
        client.destroy();
      }
    }
  }
}
