// Putting the warped (and recoloured) face into the target.
// - feather: alpha blend with the feathered mask.
// - membrane: a Poisson-style seamless blend. The colour mismatch along the
//   mask's edge is spread smoothly over the inside (a normalised convolution,
//   the cheap approximation of the membrane that solving the Poisson equation
//   gives, after Farbman et al.'s convolution pyramids), added to the face so
//   its edge meets the target exactly, then alpha blended with a narrow
//   feather.
// Rounding to 8 bits uses a seeded dither (error-free on average, no banding
// on smooth skin), so the seed is the only randomness and reruns reproduce.
import { blurPlane } from './blur.js';
import type { RgbImage } from './image-io.js';
import type { Roi } from './warp.js';

export type BlendMode = 'feather' | 'membrane';

/** Shift `warped` so its edge matches the target (the membrane correction), in place. */
export function membraneCorrect(warped: Float32Array, cover: Uint8Array, target: RgbImage, roi: Roi, radius: number): void {
  const n = roi.w * roi.h;
  const coverF = new Float32Array(n);
  for (let i = 0; i < n; i++) coverF[i] = cover[i]!;
  const near = blurPlane(coverF, roi.w, roi.h, 1.5);
  const band = new Float32Array(n);
  for (let i = 0; i < n; i++) band[i] = cover[i] && near[i]! < 0.999 ? 1 : 0;
  const den = blurPlane(band, roi.w, roi.h, radius);
  for (let c = 0; c < 3; c++) {
    const diff = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      if (!band[k]) continue;
      const x = roi.x + (k % roi.w), y = roi.y + Math.floor(k / roi.w);
      diff[k] = target.data[(y * target.width + x) * 3 + c]! - warped[3 * k + c]!;
    }
    const num = blurPlane(diff, roi.w, roi.h, radius);
    for (let k = 0; k < n; k++) {
      if (!cover[k] || den[k]! < 1e-4) continue;
      const v = warped[3 * k + c]! + num[k]! / den[k]!;
      warped[3 * k + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/** Alpha-blend `warped` into `out` (the target's pixels, modified in place) with seeded dithering. */
export function compositeInto(out: RgbImage, warped: Float32Array, alpha: Float32Array, roi: Roi, random: () => number): void {
  for (let y = 0; y < roi.h; y++) {
    for (let x = 0; x < roi.w; x++) {
      const k = y * roi.w + x;
      const a = alpha[k]!;
      if (a <= 0) continue;
      const p = ((roi.y + y) * out.width + roi.x + x) * 3;
      const d = random();
      for (let c = 0; c < 3; c++) {
        const v = warped[3 * k + c]! * a + out.data[p + c]! * (1 - a);
        const q = Math.floor(v + d);
        out.data[p + c] = q < 0 ? 0 : q > 255 ? 255 : q;
      }
    }
  }
}

/** A blur of `warped`'s channel `c` that only averages covered pixels (uncovered ones hold no colour). */
function coveredBlur(rgb: Float32Array, c: number, weight: Float32Array, wBlur: Float32Array, w: number, h: number, radius: number): Float32Array {
  const plane = new Float32Array(w * h);
  for (let k = 0; k < w * h; k++) plane[k] = rgb[3 * k + c]! * weight[k]!;
  const num = blurPlane(plane, w, h, radius);
  for (let k = 0; k < w * h; k++) num[k] = wBlur[k]! > 1e-6 ? num[k]! / wBlur[k]! : 0;
  return num;
}

/**
 * Two-band compositing (Burt and Adelson's multiresolution spline, two
 * levels): the smooth part of the face (tone, shading, the shapes of the
 * features) is blended with `alphaLow`; its fine texture (pores, strands,
 * grain) with `alphaHigh`, which starts further inside. At the mask's edge
 * the output then keeps the target's own texture and only a smooth tone
 * difference remains, which the membrane correction has already made small,
 * so no texture jump draws the mask's outline.
 */
export function compositeTwoBand(
  out: RgbImage, warped: Float32Array, region: Uint8Array, alphaLow: Float32Array, alphaHigh: Float32Array,
  roi: Roi, radius: number, random: () => number,
): void {
  const w = roi.w, h = roi.h, n = w * h;
  const ones = new Float32Array(n);
  const tgt = new Float32Array(n * 3);
  for (let k = 0; k < n; k++) {
    ones[k] = region[k]!;
    const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
    tgt[3 * k] = out.data[p]!; tgt[3 * k + 1] = out.data[p + 1]!; tgt[3 * k + 2] = out.data[p + 2]!;
  }
  const wBlur = blurPlane(ones, w, h, radius);
  const all = new Float32Array(n).fill(1);
  const allBlur = blurPlane(all, w, h, radius);
  const lowW: Float32Array[] = [], lowT: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    lowW.push(coveredBlur(warped, c, ones, wBlur, w, h, radius));
    lowT.push(coveredBlur(tgt, c, all, allBlur, w, h, radius));
  }
  for (let k = 0; k < n; k++) {
    const al = alphaLow[k]!, ah = alphaHigh[k]!;
    if (al <= 0 && ah <= 0) continue;
    const d = random();
    const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
    for (let c = 0; c < 3; c++) {
      const t = tgt[3 * k + c]!, lw = lowW[c]![k]!, lt = lowT[c]![k]!;
      const v = t + al * (lw - lt) + ah * ((warped[3 * k + c]! - lw) - (t - lt));
      const q = Math.floor(v + d);
      out.data[p + c] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
}
