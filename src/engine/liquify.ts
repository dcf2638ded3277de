// Moving the target's face outline towards the source's: the face's shape
// (jaw, cheeks, chin) is part of who it is, and the mesh warp alone keeps the
// target's. The displacement of the oval points is spread over the target
// around the face by inverse-distance weighting against a ring of fixed
// anchors further out (the oval scaled about its centre), so hair, neck and
// background near the outline move with it and nothing beyond the ring moves.
import type { Sampler } from './sampling.js';
import type { RgbImage } from './image-io.js';
import { FACE_OVAL } from './topology.js';
import type { Mesh2D } from './warp.js';

/** How far out the anchors sit, as a factor on the oval's distance from its centre. */
const ANCHOR_SCALE = 1.7;

/**
 * `img` backward-warped so the oval points of `from` move to their places in
 * `to`: a new image (null when nothing moves).
 */
export function liquifyOutline(img: RgbImage, from: Mesh2D, to: Mesh2D, sample: Sampler): RgbImage | null {
  const m = FACE_OVAL.length;
  let cx = 0, cy = 0;
  for (const o of FACE_OVAL) { cx += from[2 * o]!; cy += from[2 * o + 1]!; }
  cx /= m; cy /= m;
  // Control points: the oval where it will be (its displacement), and the anchors (none).
  const px: number[] = [], py: number[] = [], dx: number[] = [], dy: number[] = [];
  let largest = 0;
  for (const o of FACE_OVAL) {
    px.push(to[2 * o]!); py.push(to[2 * o + 1]!);
    dx.push(to[2 * o]! - from[2 * o]!); dy.push(to[2 * o + 1]! - from[2 * o + 1]!);
    largest = Math.max(largest, Math.abs(dx.at(-1)!), Math.abs(dy.at(-1)!));
  }
  if (largest < 0.25) return null;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const o of FACE_OVAL) {
    const ax = cx + (from[2 * o]! - cx) * ANCHOR_SCALE, ay = cy + (from[2 * o + 1]! - cy) * ANCHOR_SCALE;
    px.push(ax); py.push(ay); dx.push(0); dy.push(0);
    x0 = Math.min(x0, ax); x1 = Math.max(x1, ax); y0 = Math.min(y0, ay); y1 = Math.max(y1, ay);
  }
  const bx = Math.max(0, Math.floor(x0)), by = Math.max(0, Math.floor(y0));
  const bw = Math.min(img.width, Math.ceil(x1) + 1) - bx, bh = Math.min(img.height, Math.ceil(y1) + 1) - by;
  if (bw < 2 || bh < 2) return null;
  const moved: RgbImage = { data: Uint8Array.from(img.data), width: img.width, height: img.height };
  const rgb = new Float32Array(3);
  const n = px.length;
  for (let y = by; y < by + bh; y++) {
    for (let x = bx; x < bx + bw; x++) {
      // Outside the anchor ring nothing moves: the anchors' weights dominate there.
      let sw = 0, sx = 0, sy = 0, exact = -1;
      for (let i = 0; i < n; i++) {
        const d2 = (x - px[i]!) ** 2 + (y - py[i]!) ** 2;
        if (d2 < 1e-6) { exact = i; break; }
        const wgt = 1 / (d2 * d2);
        sw += wgt; sx += wgt * dx[i]!; sy += wgt * dy[i]!;
      }
      const ux = exact >= 0 ? dx[exact]! : sx / sw, uy = exact >= 0 ? dy[exact]! : sy / sw;
      if (Math.abs(ux) < 0.02 && Math.abs(uy) < 0.02) continue;
      sample(img, x - ux, y - uy, rgb, 0);
      const p = (y * img.width + x) * 3;
      for (let c = 0; c < 3; c++) moved.data[p + c] = Math.max(0, Math.min(255, Math.round(rgb[c]!)));
    }
  }
  return moved;
}
