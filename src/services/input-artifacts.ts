// Inline image inputs live in the artifact store, like outputs: a create
// stores each data: URI or base64 field there once (content-addressed, so two
// jobs with the same image share one artifact) and the job row keeps an
// ImageRef (src/models/image-ref.ts) in its params. The worker reads the bytes
// back when it sends the job, and a rerun copies the references, so it sends
// the same bytes. URL inputs are kept as the URL.
import { imageContentType, inlineImageBytes, isImageUrl } from '../models/image-input.js';
import { isImageRef, type ImageRef } from '../models/image-ref.js';
import type { ModelSpec } from '../models/types.js';
import type { ArtifactStore, StoredArtifact } from './artifacts.js';
import type { InputImage } from './providers/types.js';

export function imageRef(stored: StoredArtifact): ImageRef {
  return {
    artifact: {
      key: stored.key, sha256: stored.sha256, contentType: stored.mimeType, bytes: stored.bytes,
      width: stored.width, height: stored.height,
    },
  };
}

/** An image field's value that is inline bytes (a data: URI or base64), not a URL or a stored reference. */
export function isInlineImage(value: unknown): value is string {
  return typeof value === 'string' && !isImageUrl(value);
}

/** Stores one inline image field (already checked by normalisation) and returns its reference. */
export async function storeInlineImage(value: string, store: ArtifactStore): Promise<ImageRef> {
  const bytes = inlineImageBytes(value);
  // Normalisation checked the magic number; the fallback only guards a caller that did not.
  return imageRef(await store.put(bytes, imageContentType(bytes) ?? 'application/octet-stream'));
}

/** Normalised params with each inline image field stored and replaced by its reference. */
export async function storeInlineImages(
  spec: ModelSpec,
  params: Record<string, unknown>,
  store: ArtifactStore,
): Promise<Record<string, unknown>> {
  const inline = spec.params.filter((p) => p.kind === 'image' && isInlineImage(params[p.wire]));
  if (inline.length === 0) return params; // URLs only: the usual create, nothing to wait for
  const out = { ...params };
  await Promise.all(inline.map(async (p) => {
    out[p.wire] = await storeInlineImage(params[p.wire] as string, store);
  }));
  return out;
}

/** A stored input whose bytes are no longer in the artifact store: the job cannot be sent. */
export class MissingInputImage extends Error {
  override readonly name = 'MissingInputImage';
  constructor(readonly wire: string) {
    super(`the input image ${wire} is no longer in the artifact store`);
  }
}

/** The bytes of every stored image of these params, by wire name, for sending the job. */
export async function loadInputImages(params: Record<string, unknown>, store: ArtifactStore): Promise<Record<string, InputImage>> {
  const out: Record<string, InputImage> = {};
  await Promise.all(Object.entries(params).map(async ([wire, value]) => {
    if (!isImageRef(value)) return;
    const bytes = await store.read(value.artifact.key);
    if (!bytes) throw new MissingInputImage(wire);
    out[wire] = { bytes, contentType: value.artifact.contentType };
  }));
  return out;
}
