// A server-made thumbnail as a plain <img>: its URL is a signed link the API gave
// (JobOutput.thumbnailUrl, ImageInput.thumbnailUrl), so the browser fetches,
// caches, decodes and lazy-loads it by itself, with no script per image (fetching
// with the key into a blob and an object URL cost the page 1/0.74 of the CPU;
// docs/PERFORMANCE.md §7). The box has a fixed aspect and the <img> its size, so
// the grid never reflows as images arrive.
import { useState } from 'preact/hooks';
import { OUTPUT_THUMBNAIL_SIZE } from '../../src/models/thumbnail-sizes.js';

/** `size`: the server's size for this kind of image (models/thumbnail-sizes.ts); the box's CSS scales it. */
export function Thumb({ url, alt, size = OUTPUT_THUMBNAIL_SIZE, empty = 'no image' }: { url: string | null; alt: string; size?: number; empty?: string }) {
  const [failed, setFailed] = useState<string | null>(null);
  const broken = url !== null && failed === url;
  return (
    <div class="thumb">
      {url && !broken
        ? <img src={url} alt={alt} width={size} height={size} loading="lazy" decoding="async" onError={() => setFailed(url)} />
        : <span class="placeholder">{!url ? empty : 'unavailable'}</span>}
    </div>
  );
}
