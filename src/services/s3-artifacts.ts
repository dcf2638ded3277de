// Artifacts in an S3-compatible bucket (ARTIFACT_STORE=s3): AWS S3, MinIO,
// Ceph, R2, … through @aws-sdk/client-s3, one object per key, so API and
// workers on different hosts share outputs and inline inputs; output receipts
// are small JSON objects under `receipts/`. Any failure but "no such key"
// becomes ArtifactStoreUnavailable (a 503 for a download).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, paginateListObjectsV2, PutObjectCommand, S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';
import { ArtifactStoreUnavailable } from './artifact-store-unavailable.js';
import { ARTIFACT_KEY, contentKey, dimensions, JOB_ID, type ArtifactStore, type OutputReceipt, type StoredArtifact } from './artifacts.js';

const RECEIPTS = 'receipts/';
/** Tries of one request (the SDK's, and read()'s of a body cut short). */
const MAX_ATTEMPTS = 3;

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNoSuchKey(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'NoSuchKey' || (err.name === 'NotFound' && status(err) === 404));
}

export class S3ArtifactStore implements ArtifactStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  /** Where the bucket is, for the operator's messages: the endpoint (never credentials) or the AWS region. */
  private readonly where: string;

  constructor(config: S3Config) {
    this.bucket = config.bucket;
    this.where = config.endpoint ?? `AWS region ${config.region}`;
    this.client = new S3Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle,
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: { connectionTimeout: config.connectTimeoutMs, requestTimeout: config.requestTimeoutMs },
      // Only the checksums S3 requires: the newer default (CRC32 on every
      // request) is refused by several S3-compatible servers. Uploads carry
      // Content-MD5 instead, which all of them check.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private unavailable(what: string, err: unknown): ArtifactStoreUnavailable {
    return new ArtifactStoreUnavailable('s3', `S3 artifact store (bucket "${this.bucket}" at ${this.where}): ${what} failed: ${describe(err)}`, { cause: err });
  }

  /** At start: the bucket exists and these credentials may use it; else a start-up error saying which. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const code = status(err);
      const reason = code === 404 ? `bucket "${this.bucket}" does not exist (S3_BUCKET)`
        : code === 403 ? `access to bucket "${this.bucket}" refused (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)`
        : code === 301 ? `bucket "${this.bucket}" is in another region than S3_REGION`
        : `cannot use bucket "${this.bucket}": ${describe(err)}`;
      throw new ArtifactStoreUnavailable('s3', `S3 artifact store at ${this.where}: ${reason}`, { cause: err });
    }
  }

  async put(bytes: Buffer, mimeType: string): Promise<StoredArtifact> {
    const { key, sha256 } = contentKey(bytes, mimeType);
    try {
      // Same key, same bytes: overwriting is harmless, and cheaper than asking first.
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key: key, Body: bytes, ContentType: mimeType, ContentLength: bytes.length,
        ContentMD5: createHash('md5').update(bytes).digest('base64'),
      }));
    } catch (err) {
      throw this.unavailable('put', err);
    }
    return { key, sha256, bytes: bytes.length, mimeType, ...(await dimensions(bytes)) };
  }

  async open(key: string): Promise<Readable | null> {
    if (!ARTIFACT_KEY.test(key)) return null;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body as Readable;
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw this.unavailable('get', err);
    }
  }

  /**
   * The whole object. A connection cut while the body arrives is not one the
   * SDK retries (it has answered by then), so the GET is repeated here, as
   * often as the SDK tries a request.
   */
  async read(key: string): Promise<Buffer | null> {
    for (let attempt = 1; ; attempt += 1) {
      const body = await this.open(key);
      if (!body) return null;
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of body) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS) throw this.unavailable('get', err);
      }
    }
  }

  async remove(key: string): Promise<void> {
    if (!ARTIFACT_KEY.test(key)) return;
    await this.deleteObject(key);
  }

  /** Every artifact key in the bucket (receipts, and other objects that are not ours, are skipped). */
  async *keys(): AsyncIterable<string> {
    for await (const name of this.list('')) if (ARTIFACT_KEY.test(name)) yield name;
  }

  private receiptName(jobId: string): string {
    if (!JOB_ID.test(jobId)) throw new Error('not a job id');
    return `${RECEIPTS}${jobId}.json`;
  }

  async putReceipt(jobId: string, receipt: OutputReceipt): Promise<void> {
    const name = this.receiptName(jobId);
    const body = Buffer.from(JSON.stringify(receipt));
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key: name, Body: body, ContentType: 'application/json', ContentLength: body.length,
        ContentMD5: createHash('md5').update(body).digest('base64'),
      }));
    } catch (err) {
      throw this.unavailable('put receipt', err);
    }
  }

  async readReceipt(jobId: string): Promise<OutputReceipt | null> {
    const text = await this.getText(this.receiptName(jobId));
    if (text === null) return null;
    const receipt = JSON.parse(text) as OutputReceipt;
    // The receipt names an artifact; without its bytes there is nothing to complete the job with.
    const key = receipt.artifact?.key ?? '';
    return ARTIFACT_KEY.test(key) && (await this.exists(key)) ? receipt : null;
  }

  async dropReceipt(jobId: string): Promise<void> {
    await this.deleteObject(this.receiptName(jobId));
  }

  async *receipts(): AsyncIterable<string> {
    for await (const name of this.list(RECEIPTS)) {
      const id = name.slice(RECEIPTS.length, -'.json'.length);
      if (name.endsWith('.json') && JOB_ID.test(id)) yield id;
    }
  }

  private async getText(name: string): Promise<string | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: name }));
      return await res.Body!.transformToString('utf8');
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw this.unavailable('get', err);
    }
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }));
      return true;
    } catch (err) {
      if (isNoSuchKey(err)) return false;
      throw this.unavailable('head', err);
    }
  }

  private async deleteObject(name: string): Promise<void> {
    try {
      // S3 answers a delete of a missing object with success too.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: name }));
    } catch (err) {
      throw this.unavailable('delete', err);
    }
  }

  private async *list(prefix: string): AsyncIterable<string> {
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, ...(prefix ? { Prefix: prefix } : {}) })) {
        for (const o of page.Contents ?? []) if (o.Key) yield o.Key;
      }
    } catch (err) {
      throw this.unavailable('list', err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** An SDK or socket error in a few words, for the operator: its name or code, and the HTTP status when there was one. */
function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  const code = status(err);
  const name = e?.code ?? (e?.name && e.name !== 'Error' && e.name !== 'UnknownError' ? e.name : undefined);
  return [name ?? 'error', code ? `HTTP ${code}` : null].filter(Boolean).join(', ');
}
