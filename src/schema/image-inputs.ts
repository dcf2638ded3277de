// The image inputs of a job as the API shows them: an object per image, never
// the bytes. A URL input is the URL the client gave; an inline one (sent as a
// data: URI or base64) is stored in the artifact store and has a download
// link, served to the job's own key only (src/server/job-files.ts).
import { isImageRef } from '../models/image-ref.js';
import type { ImageParam } from '../models/types.js';
import { INPUT_THUMBNAIL_SIZE } from '../models/thumbnail-sizes.js';
import { builder } from './builder.js';
import { jobGlobalId } from '../models/job-ids.js';
import type { Context } from '../resolvers/context.js';

export const ImageInputSourceEnum = builder.enumType('ImageInputSource', {
  values: {
    URL: { description: 'An http(s) URL, kept as given; the upstream (or the local engine) fetches it.' },
    INLINE: { description: 'Sent inline (a data: URI or base64) and kept in the artifact store.' },
  },
});

interface ImageInputShape {
  source: 'URL' | 'INLINE';
  url: string;
  sha256: string | null;
  contentType: string | null;
  bytes: number | null;
  width: number | null;
  height: number | null;
  /** INLINE: the job's global id and the field, for the thumbnail's link. */
  thumbnailOf: { jobId: string; field: string } | null;
}

/** What a thumbnailUrl field is, for a preview whose longest side is `size` px. */
export const thumbnailLinkDescription = (size: number): string => `signed link to a JPEG preview (longest side ${size} px) `
  + 'that needs no Authorization header, for <img src>. It acts as your key for this image only, for at least an hour '
  + '(then read it again), and stops working when the key is revoked.';

/** The signed link of a job's thumbnail: "output" or an image input's field (GET /thumbnails/<job id>/<field>). */
export function thumbnailUrl(ctx: Context, jobGlobalIdText: string, field: string): string {
  // Global ids are standard base64 and may hold '/' or '+'; the signature covers the path as encoded.
  return ctx.publicUrl + ctx.urls.sign(`/thumbnails/${encodeURIComponent(jobGlobalIdText)}/${field}`, ctx.apiKey.id);
}

export const ImageInputType = builder.objectRef<ImageInputShape>('ImageInput').implement({
  description: 'An image given to a job. Inline images are stored once (by sha256) and linked, never returned inline.',
  fields: (t) => ({
    source: t.field({ type: ImageInputSourceEnum, resolve: (i) => i.source }),
    url: t.exposeString('url', {
      description: 'URL: the URL as given. INLINE: a download link for the stored image; send the same Authorization header as for the API.',
    }),
    sha256: t.exposeString('sha256', { nullable: true, description: 'Of the stored bytes (INLINE only).' }),
    contentType: t.exposeString('contentType', { nullable: true, description: 'e.g. image/png (INLINE only).' }),
    bytes: t.exposeInt('bytes', { nullable: true, description: 'Size of the stored image (INLINE only).' }),
    width: t.exposeInt('width', { nullable: true }),
    height: t.exposeInt('height', { nullable: true }),
    thumbnailUrl: t.string({
      nullable: true,
      description: `INLINE only: a ${thumbnailLinkDescription(INPUT_THUMBNAIL_SIZE)}`,
      resolve: (i, _args, ctx) => (i.thumbnailOf ? thumbnailUrl(ctx, i.thumbnailOf.jobId, i.thumbnailOf.field) : null),
    }),
  }),
});

/** Where an inline input of a job is downloaded: GET /inputs/<job id>/<field>. */
export function inputUrl(publicUrl: string, job: { id: string; model: string }, field: string): string {
  // Global ids are standard base64 and may hold '/' or '+'.
  return `${publicUrl}/inputs/${encodeURIComponent(jobGlobalId(job))}/${field}`;
}

/** The ImageInput of one image field's stored value; null when the job has none. */
export function imageInput(
  value: unknown,
  param: ImageParam,
  job: { id: string; model: string },
  publicUrl: string,
): ImageInputShape | null {
  if (isImageRef(value)) {
    const a = value.artifact;
    return {
      source: 'INLINE', url: inputUrl(publicUrl, job, param.name),
      sha256: a.sha256, contentType: a.contentType, bytes: a.bytes, width: a.width, height: a.height,
      thumbnailOf: { jobId: jobGlobalId(job), field: param.name },
    };
  }
  if (typeof value !== 'string') return null;
  return { source: 'URL', url: value, sha256: null, contentType: null, bytes: null, width: null, height: null, thumbnailOf: null };
}
