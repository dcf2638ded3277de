// The blend mask: the warped triangles' coverage, feathered inwards. The
// alpha is 0 on the coverage edge and reaches 1 about `radius` pixels inside,
// so no pixel outside the kept triangles (hair, background, dropped regions)
// is ever touched, and the seam fades over the face's own skin.
import { blurPlane } from './blur.js';

/**
 * How alpha rises with the normalised depth t (0 on the edge, 1 fully in):
 * smoothstep (the default), cubic (t³) or smoothstep squared; the last two
 * rise very gently at the edge, so the blend adds almost no gradient where
 * it starts.
 */
export type Ramp = 'smoothstep' | 'cubic' | 'smoothstep2';

export function rampValue(t: number, ramp: Ramp = 'smoothstep'): number {
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  if (ramp === 'cubic') return t * t * t;
  const s = t * t * (3 - 2 * t);
  return ramp === 'smoothstep2' ? s * s : s;
}

export function featherMask(cover: Uint8Array, w: number, h: number, radius: number, ramp: Ramp = 'smoothstep'): Float32Array {
  const plane = new Float32Array(cover.length);
  for (let i = 0; i < cover.length; i++) plane[i] = cover[i]!;
  const soft = blurPlane(plane, w, h, radius);
  const alpha = new Float32Array(cover.length);
  for (let i = 0; i < cover.length; i++) {
    if (!cover[i]) continue;
    alpha[i] = rampValue((soft[i]! - 0.5) * 2, ramp);
  }
  return alpha;
}

/** Feather radius for a face: a fraction of its size, never below 2 px. */
export function featherRadius(faceWidth: number, fraction = 0.08): number {
  return Math.max(2, faceWidth * fraction);
}

/**
 * Chamfer distance (3-4 weights, in pixels) from each pixel outside `region`
 * to the region; 0 inside. Two raster passes in a fixed order.
 */
export function distanceOutside(region: Uint8Array, w: number, h: number): Float32Array {
  const BIG = 1e9;
  const d = new Float32Array(w * h);
  for (let k = 0; k < w * h; k++) d[k] = region[k] ? 0 : BIG;
  const a = 1, b = Math.SQRT2;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const k = y * w + x;
    let v = d[k]!;
    if (v === 0) continue;
    if (x > 0) v = Math.min(v, d[k - 1]! + a);
    if (y > 0) {
      v = Math.min(v, d[k - w]! + a);
      if (x > 0) v = Math.min(v, d[k - w - 1]! + b);
      if (x < w - 1) v = Math.min(v, d[k - w + 1]! + b);
    }
    d[k] = v;
  }
  for (let y = h - 1; y >= 0; y--) for (let x = w - 1; x >= 0; x--) {
    const k = y * w + x;
    let v = d[k]!;
    if (v === 0) continue;
    if (x < w - 1) v = Math.min(v, d[k + 1]! + a);
    if (y < h - 1) {
      v = Math.min(v, d[k + w]! + a);
      if (x < w - 1) v = Math.min(v, d[k + w + 1]! + b);
      if (x > 0) v = Math.min(v, d[k + w - 1]! + b);
    }
    d[k] = v;
  }
  return d;
}
