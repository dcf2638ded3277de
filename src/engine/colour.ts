// Colour transfer in CIE Lab (Reinhard et al.): the warped source face takes
// the target face's mean and spread per channel, so skin tone and lighting
// match. Statistics use only the mask's interior and are guarded, because the
// plain method blows up on small or noisy faces: a tiny face gives unreliable
// spreads (mean shift only below MIN_PIXELS_FOR_SCALE), a flat or noisy
// channel gives extreme ratios (the ratio is clamped), and a very small face
// is not recoloured at all.
import type { RgbImage } from './image-io.js';
import type { Roi } from './warp.js';

export const MIN_PIXELS_FOR_COLOUR = 150;
export const MIN_PIXELS_FOR_SCALE = 2500;
const RATIO_LIMITS: Array<[number, number]> = [[0.75, 1.33], [0.6, 1.66], [0.6, 1.66]];
const MIN_STD = 1.5;

const SRGB_TO_LINEAR = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  SRGB_TO_LINEAR[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

export function toLinear(v: number): number {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}
function toSrgb(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return v * 255;
}
const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
const finv = (t: number) => (t * t * t > 216 / 24389 ? t * t * t : (116 * t - 16) / (24389 / 27));

export function rgbToLab(r: number, g: number, b: number, out: Float64Array, o: number): void {
  const X = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
  const Y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const Z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
  const fx = f(X), fy = f(Y), fz = f(Z);
  out[o] = 116 * fy - 16; out[o + 1] = 500 * (fx - fy); out[o + 2] = 200 * (fy - fz);
}

function labToRgb(L: number, A: number, B: number, out: Float32Array, o: number): void {
  const fy = (L + 16) / 116, fx = fy + A / 500, fz = fy - B / 200;
  const X = finv(fx) * 0.95047, Y = finv(fy), Z = finv(fz) * 1.08883;
  const r = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z;
  const g = -0.969266 * X + 1.8760108 * Y + 0.041556 * Z;
  const b = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z;
  out[o] = Math.min(255, Math.max(0, toSrgb(Math.min(1, Math.max(0, r)))));
  out[o + 1] = Math.min(255, Math.max(0, toSrgb(Math.min(1, Math.max(0, g)))));
  out[o + 2] = Math.min(255, Math.max(0, toSrgb(Math.min(1, Math.max(0, b)))));
}

export type ColourOutcome = 'full' | 'mean-only' | 'skipped';

/**
 * Recolour `warped` (float RGB over `roi`) in place towards the target's
 * pixels under the same region. Statistics come from pixels whose alpha
 * exceeds 0.5, or, with `stats`, from the pixels it marks (skin only: eyes,
 * brows, mouth and teeth differ between people and are not tone);
 * `meanOnly` keeps the source's own spread (its contrast) and moves only the
 * means.
 */
export function transferColour(warped: Float32Array, alpha: Float32Array, target: RgbImage, roi: Roi, stats?: Uint8Array, meanOnly = false): ColourOutcome {
  const n = roi.w * roi.h;
  const pick = stats ? (k: number) => stats[k] === 1 && alpha[k]! > 0 : (k: number) => alpha[k]! > 0.5;
  let count = 0;
  for (let i = 0; i < n; i++) if (pick(i)) count++;
  if (count < MIN_PIXELS_FOR_COLOUR) return 'skipped';
  const labS = new Float64Array(n * 3);
  const sumS = [0, 0, 0], sqS = [0, 0, 0], sumT = [0, 0, 0], sqT = [0, 0, 0];
  const tmp = new Float64Array(3);
  for (let k = 0; k < n; k++) {
    if (alpha[k]! <= 0) continue;
    rgbToLab(toLinear(warped[3 * k]!), toLinear(warped[3 * k + 1]!), toLinear(warped[3 * k + 2]!), labS, 3 * k);
    if (!pick(k)) continue;
    const x = roi.x + (k % roi.w), y = roi.y + Math.floor(k / roi.w);
    const p = (y * target.width + x) * 3;
    rgbToLab(SRGB_TO_LINEAR[target.data[p]!]!, SRGB_TO_LINEAR[target.data[p + 1]!]!, SRGB_TO_LINEAR[target.data[p + 2]!]!, tmp, 0);
    for (let c = 0; c < 3; c++) {
      const s = labS[3 * k + c]!, t = tmp[c]!;
      sumS[c]! += s; sqS[c]! += s * s; sumT[c]! += t; sqT[c]! += t * t;
    }
  }
  const scaleAllowed = count >= MIN_PIXELS_FOR_SCALE && !meanOnly;
  const meanS = [0, 0, 0], meanT = [0, 0, 0], ratio = [1, 1, 1];
  for (let c = 0; c < 3; c++) {
    meanS[c] = sumS[c]! / count;
    meanT[c] = sumT[c]! / count;
    const sdS = Math.sqrt(Math.max(0, sqS[c]! / count - meanS[c]! ** 2));
    const sdT = Math.sqrt(Math.max(0, sqT[c]! / count - meanT[c]! ** 2));
    if (scaleAllowed && sdS >= MIN_STD && sdT >= MIN_STD) {
      const [lo, hi] = RATIO_LIMITS[c]!;
      ratio[c] = Math.min(hi, Math.max(lo, sdT / sdS));
    }
  }
  for (let k = 0; k < n; k++) {
    if (alpha[k]! <= 0) continue;
    const L = (labS[3 * k]! - meanS[0]!) * ratio[0]! + meanT[0]!;
    const A = (labS[3 * k + 1]! - meanS[1]!) * ratio[1]! + meanT[1]!;
    const B = (labS[3 * k + 2]! - meanS[2]!) * ratio[2]! + meanT[2]!;
    labToRgb(Math.min(100, Math.max(0, L)), A, B, warped, 3 * k);
  }
  return scaleAllowed ? 'full' : 'mean-only';
}
