// Sampling an RGB image at a real-valued position with the four wire
// interpolation kernels. Used by the triangle warp, so the client's
// `interpolation` choice decides how the source face is resampled.
import type { Interpolation, RgbImage } from './image-io.js';

export type Sampler = (img: RgbImage, x: number, y: number, out: Float32Array, o: number) => void;

function clampi(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}

const nearest: Sampler = (img, x, y, out, o) => {
  const xi = clampi(Math.round(x), img.width - 1);
  const yi = clampi(Math.round(y), img.height - 1);
  const p = (yi * img.width + xi) * 3;
  out[o] = img.data[p]!; out[o + 1] = img.data[p + 1]!; out[o + 2] = img.data[p + 2]!;
};

const bilinear: Sampler = (img, x, y, out, o) => {
  const w = img.width, h = img.height, d = img.data;
  const x0f = Math.floor(x), y0f = Math.floor(y);
  const fx = x - x0f, fy = y - y0f;
  const x0 = clampi(x0f, w - 1), x1 = clampi(x0f + 1, w - 1);
  const y0 = clampi(y0f, h - 1), y1 = clampi(y0f + 1, h - 1);
  const p00 = (y0 * w + x0) * 3, p01 = (y0 * w + x1) * 3, p10 = (y1 * w + x0) * 3, p11 = (y1 * w + x1) * 3;
  for (let c = 0; c < 3; c++) {
    const top = d[p00 + c]! + (d[p01 + c]! - d[p00 + c]!) * fx;
    const bot = d[p10 + c]! + (d[p11 + c]! - d[p10 + c]!) * fx;
    out[o + c] = top + (bot - top) * fy;
  }
};

function kernelSampler(radius: number, weight: (t: number) => number): Sampler {
  const taps = radius * 2;
  const wx = new Float64Array(taps), wy = new Float64Array(taps);
  return (img, x, y, out, o) => {
    const w = img.width, h = img.height, d = img.data;
    const x0 = Math.floor(x) - radius + 1, y0 = Math.floor(y) - radius + 1;
    let sx = 0, sy = 0;
    for (let i = 0; i < taps; i++) {
      wx[i] = weight(x - (x0 + i)); sx += wx[i]!;
      wy[i] = weight(y - (y0 + i)); sy += wy[i]!;
    }
    let r = 0, g = 0, b = 0;
    for (let j = 0; j < taps; j++) {
      const row = clampi(y0 + j, h - 1) * w;
      const wyj = wy[j]! / sy;
      for (let i = 0; i < taps; i++) {
        const k = wyj * (wx[i]! / sx);
        const p = (row + clampi(x0 + i, w - 1)) * 3;
        r += d[p]! * k; g += d[p + 1]! * k; b += d[p + 2]! * k;
      }
    }
    out[o] = r < 0 ? 0 : r > 255 ? 255 : r;
    out[o + 1] = g < 0 ? 0 : g > 255 ? 255 : g;
    out[o + 2] = b < 0 ? 0 : b > 255 ? 255 : b;
  };
}

/** Keys' cubic convolution with a = -0.5 (Catmull-Rom), as in most "bicubic" resizers. */
function cubicWeight(t: number): number {
  const a = -0.5, x = Math.abs(t);
  if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
  if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
  return 0;
}

function lanczos3Weight(t: number): number {
  const x = Math.abs(t);
  if (x < 1e-8) return 1;
  if (x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

export function samplerFor(interp: Interpolation): Sampler {
  switch (interp) {
    case 'Nearest': return nearest;
    case 'Bilinear': return bilinear;
    case 'Bicubic': return kernelSampler(2, cubicWeight);
    case 'Lanczos': return kernelSampler(3, lanczos3Weight);
  }
}
