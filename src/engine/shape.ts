// Face shape transfer: the warp puts the source's skin on the target's
// landmarks, so the target's proportions (eye spacing, nose length, mouth
// width) stay, and they are part of who a face is. This moves the target's
// inner landmarks part of the way towards the source's own, after aligning
// the source mesh to the target's by a similarity transform (scale, rotation,
// shift: least squares over all points). By default the face outline stays
// where the target has it (weight 0 on the oval, rising inwards), so nothing
// outside the oval moves; `outline` moves it too (liquify.ts then moves the
// target around it). The landmark fidelity figure measures what either costs.
import type { FaceTopology } from './topology.js';
import { FACE_OVAL } from './topology.js';
import type { Mesh2D } from './warp.js';

const weightsCache = new WeakMap<FaceTopology, Float64Array>();

/** Per point: 0 on the face oval, 1 from RAMP (canonical UV units) inside it. */
function inwardWeights(topo: FaceTopology): Float64Array {
  const hit = weightsCache.get(topo);
  if (hit) return hit;
  const RAMP = 0.12;
  const n = topo.uv.length / 2;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = Infinity;
    for (const o of FACE_OVAL) d = Math.min(d, Math.hypot(topo.uv[2 * i]! - topo.uv[2 * o]!, topo.uv[2 * i + 1]! - topo.uv[2 * o + 1]!));
    const t = Math.min(1, d / RAMP);
    w[i] = t * t * (3 - 2 * t);
  }
  weightsCache.set(topo, w);
  return w;
}

/**
 * `outline` (0..1): the share of `amount` the face oval moves too (0 = the
 * outline stays the target's); the caller then moves the target around the
 * face with it (liquify.ts).
 */
export function morphTowardsSource(dst: Mesh2D, src: Mesh2D, topo: FaceTopology, amount: number, outline = 0): Mesh2D {
  const aligned = alignIn2d(src, dst);
  if (!aligned) return dst;
  const w = inwardWeights(topo);
  const n = dst.length / 2;
  const out = new Float64Array(dst.length);
  for (let i = 0; i < n; i++) {
    const f = amount * (outline + (1 - outline) * w[i]!);
    out[2 * i] = dst[2 * i]! + f * (aligned[2 * i]! - dst[2 * i]!);
    out[2 * i + 1] = dst[2 * i + 1]! + f * (aligned[2 * i + 1]! - dst[2 * i + 1]!);
  }
  return out;
}

/** The source mesh moved onto the target's by the least-squares similarity in the image plane. */
function alignIn2d(src: Mesh2D, dst: Mesh2D): Mesh2D | null {
  const n = dst.length / 2;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) { sx += src[2 * i]!; sy += src[2 * i + 1]!; dx += dst[2 * i]!; dy += dst[2 * i + 1]!; }
  sx /= n; sy /= n; dx /= n; dy /= n;
  // Complex least squares: a = Σ d·conj(s) / Σ |s|² (centred), a = scale·e^{iθ}.
  let re = 0, im = 0, ss = 0;
  for (let i = 0; i < n; i++) {
    const ax = src[2 * i]! - sx, ay = src[2 * i + 1]! - sy, bx = dst[2 * i]! - dx, by = dst[2 * i + 1]! - dy;
    re += bx * ax + by * ay; im += by * ax - bx * ay; ss += ax * ax + ay * ay;
  }
  if (ss === 0) return null;
  re /= ss; im /= ss;
  const out = new Float64Array(dst.length);
  for (let i = 0; i < n; i++) {
    const ax = src[2 * i]! - sx, ay = src[2 * i + 1]! - sy;
    out[2 * i] = re * ax - im * ay + dx;
    out[2 * i + 1] = im * ax + re * ay + dy;
  }
  return out;
}
