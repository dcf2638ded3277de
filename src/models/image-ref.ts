// An inline image input as a job keeps it: not the base64 the client sent,
// but a reference to its bytes in the artifact store (src/services/
// input-artifacts.ts), which the worker reads back when it sends the job.
// URL inputs stay the URL string. A reference is an object, and image fields
// of the GraphQL inputs are strings, so a client cannot forge one: only a
// rerun copies them, from the caller's own job.

/** What the artifact store said of the bytes: where they are, and what they are. */
export interface StoredImage {
  /** The artifact store's key (opaque). */
  key: string;
  sha256: string;
  contentType: string;
  bytes: number;
  width: number | null;
  height: number | null;
}

/** The stored form of an inline image field: `{ "artifact": { … } }`. */
export interface ImageRef {
  artifact: StoredImage;
}

export function isImageRef(value: unknown): value is ImageRef {
  const a = (value as { artifact?: Partial<StoredImage> } | null)?.artifact;
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof a === 'object' && a !== null
    && typeof a.key === 'string' && typeof a.sha256 === 'string' && typeof a.contentType === 'string' && typeof a.bytes === 'number';
}
