// Gradient-domain (Poisson) blending, Pérez et al. 2003: the pasted face keeps
// the source's gradients (its features and texture) while its values on the
// region's edge become the target's exactly, so tone and light follow the
// target without a seam. Solved as the membrane form: the correction m is
// harmonic inside the region (Δm = 0) and equals target − warped on its edge;
// the output is warped + m. The Laplace equation is solved by a cascadic
// multigrid: exact enough on a coarse grid, then prolongated and smoothed
// with Gauss-Seidel/SOR sweeps level by level. Loops run in a fixed order, so
// the result is the same bit for bit on every run.
import type { RgbImage } from './image-io.js';
import type { Roi } from './warp.js';

const OUTSIDE = 0, FIXED = 1, FREE = 2;

interface Level { w: number; h: number; state: Uint8Array; value: Float32Array }

/** The next coarser grid: a cell is fixed if any child is (their mean), else free if any child is. */
function coarsen(l: Level): Level {
  const w = (l.w + 1) >> 1, h = (l.h + 1) >> 1;
  const state = new Uint8Array(w * h), value = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let fixed = 0, free = 0;
    const sum = [0, 0, 0];
    for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
      const fx = 2 * x + dx, fy = 2 * y + dy;
      if (fx >= l.w || fy >= l.h) continue;
      const k = fy * l.w + fx;
      if (l.state[k] === FIXED) {
        fixed++;
        for (let c = 0; c < 3; c++) sum[c]! += l.value[3 * k + c]!;
      } else if (l.state[k] === FREE) free++;
    }
    const k = y * w + x;
    if (fixed) {
      state[k] = FIXED;
      for (let c = 0; c < 3; c++) value[3 * k + c] = sum[c]! / fixed;
    } else if (free) state[k] = FREE;
  }
  return { w, h, state, value };
}

/** SOR sweeps over the free cells; outside neighbours are left out of the average (a natural boundary). */
function relax(l: Level, sweeps: number, omega: number): void {
  const { w, h, state, value } = l;
  for (let s = 0; s < sweeps; s++) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const k = y * w + x;
      if (state[k] !== FREE) continue;
      let n = 0, r = 0, g = 0, b = 0;
      if (x > 0 && state[k - 1]) { n++; r += value[3 * k - 3]!; g += value[3 * k - 2]!; b += value[3 * k - 1]!; }
      if (x < w - 1 && state[k + 1]) { n++; r += value[3 * k + 3]!; g += value[3 * k + 4]!; b += value[3 * k + 5]!; }
      if (y > 0 && state[k - w]) { const q = 3 * (k - w); n++; r += value[q]!; g += value[q + 1]!; b += value[q + 2]!; }
      if (y < h - 1 && state[k + w]) { const q = 3 * (k + w); n++; r += value[q]!; g += value[q + 1]!; b += value[q + 2]!; }
      if (!n) continue;
      const p = 3 * k;
      value[p] = value[p]! + omega * (r / n - value[p]!);
      value[p + 1] = value[p + 1]! + omega * (g / n - value[p + 1]!);
      value[p + 2] = value[p + 2]! + omega * (b / n - value[p + 2]!);
    }
  }
}

function solve(l: Level, depth: number): void {
  if (l.w * l.h <= 1024 || depth > 8) {
    relax(l, 150, 1.7);
    return;
  }
  const coarse = coarsen(l);
  solve(coarse, depth + 1);
  // Prolongate: each free fine cell starts from its coarse cell's value.
  for (let y = 0; y < l.h; y++) for (let x = 0; x < l.w; x++) {
    const k = y * l.w + x;
    if (l.state[k] !== FREE) continue;
    const ck = (y >> 1) * coarse.w + (x >> 1);
    for (let c = 0; c < 3; c++) l.value[3 * k + c] = coarse.value[3 * ck + c]!;
  }
  relax(l, depth === 0 ? 12 : 24, 1.6);
}

/**
 * The membrane correction for `warped` (float RGB over `roi`) inside `region`
 * (1 = pasted): harmonic inside, target − warped on the region's edge. Edge
 * differences are clamped to a robust range (median ± 3 MAD per channel) so a
 * few edge pixels on something that is not skin (a strand of the target's
 * hair) do not bleed their colour inwards. With `deadZone` > 0 each edge
 * difference is shrunk towards 0 by that many levels (RGB distance), so the
 * solution corrects only the excess. Null when the region is empty.
 */
export function membraneSolve(warped: Float32Array, region: Uint8Array, target: RgbImage, roi: Roi, deadZone = 0): Float32Array | null {
  const w = roi.w, h = roi.h;
  const state = new Uint8Array(w * h), value = new Float32Array(w * h * 3);
  const edge: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const k = y * w + x;
    if (!region[k]) continue;
    const onEdge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || !region[k - 1] || !region[k + 1] || !region[k - w] || !region[k + w];
    if (onEdge) {
      state[k] = FIXED;
      edge.push(k);
      const p = ((roi.y + y) * target.width + roi.x + x) * 3;
      for (let c = 0; c < 3; c++) value[3 * k + c] = target.data[p + c]! - warped[3 * k + c]!;
    } else state[k] = FREE;
  }
  if (edge.length === 0) return null;
  const step = Math.max(1, Math.floor(edge.length / 4000));
  for (let c = 0; c < 3; c++) {
    const vals: number[] = [];
    for (let i = 0; i < edge.length; i += step) vals.push(value[3 * edge[i]! + c]!);
    vals.sort((a, b) => a - b);
    const med = vals[vals.length >> 1]!;
    const dev = vals.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
    const lim = 3 * Math.max(4, 1.4826 * dev[dev.length >> 1]!);
    for (const k of edge) value[3 * k + c] = Math.min(med + lim, Math.max(med - lim, value[3 * k + c]!));
  }
  if (deadZone > 0) {
    // Correct only what exceeds `deadZone` levels (RGB distance): up to that much of the difference stays on the edge.
    for (const k of edge) {
      const r = value[3 * k]!, g = value[3 * k + 1]!, b = value[3 * k + 2]!;
      const norm = Math.sqrt(r * r + g * g + b * b);
      const f = norm > deadZone ? 1 - deadZone / norm : 0;
      value[3 * k] = r * f; value[3 * k + 1] = g * f; value[3 * k + 2] = b * f;
    }
  }
  solve({ w, h, state, value }, 0);
  return value;
}

/**
 * Poisson-blend `warped` inside `region`, in place: afterwards its values on
 * the region's edge are the target's and its gradients inside are its own.
 * With `weight` (0..1 per pixel), the correction is scaled by it: 1 on the
 * edge and fading inwards keeps the edge exact while the face's middle keeps
 * the tone it had (the pure membrane carries the target's edge inwards, which
 * the identity figure showed costs identity). With `deadZone` > 0 only the
 * part of the edge difference beyond that many levels is corrected.
 */
export function poissonBlend(warped: Float32Array, region: Uint8Array, target: RgbImage, roi: Roi, weight?: Float32Array, deadZone = 0): void {
  const m = membraneSolve(warped, region, target, roi, deadZone);
  if (!m) return;
  for (let k = 0; k < roi.w * roi.h; k++) {
    if (!region[k]) continue;
    const f = weight ? weight[k]! : 1;
    for (let c = 0; c < 3; c++) {
      const v = warped[3 * k + c]! + f * m[3 * k + c]!;
      warped[3 * k + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}
