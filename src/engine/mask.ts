// The blend mask: the warped triangles' coverage, feathered inwards. The
// alpha is 0 on the coverage edge and reaches 1 about `radius` pixels inside,
// so no pixel outside the kept triangles (hair, background, dropped regions)
// is ever touched, and the seam fades over the face's own skin.
import { blurPlane } from './blur.js';

export function featherMask(cover: Uint8Array, w: number, h: number, radius: number): Float32Array {
  const plane = new Float32Array(cover.length);
  for (let i = 0; i < cover.length; i++) plane[i] = cover[i]!;
  const soft = blurPlane(plane, w, h, radius);
  const alpha = new Float32Array(cover.length);
  for (let i = 0; i < cover.length; i++) {
    if (!cover[i]) continue;
    const a = (soft[i]! - 0.5) * 2;
    alpha[i] = a <= 0 ? 0 : a >= 1 ? 1 : a * a * (3 - 2 * a); // smoothstep
  }
  return alpha;
}

/** Feather radius for a face: a fraction of its size, never below 2 px. */
export function featherRadius(faceWidth: number, fraction = 0.08): number {
  return Math.max(2, faceWidth * fraction);
}
