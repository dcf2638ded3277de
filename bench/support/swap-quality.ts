// The quality figures of the local engine's bench (bench/local-engine.ts),
// besides identity: how true the output stays to the target's pose and
// expression, and how visible the blend's seam is. Both compare the output
// with the target the way a viewer would, without asking the engine what it
// did: the seam is found from the pixels the swap changed (the bench asks for
// PNG output, so every pixel outside the blend is the target's, bit for bit).
import { blurPlane } from '../../src/engine/blur.js';

export interface Rgb { data: Uint8Array; width: number; height: number }
type Box = [number, number, number, number];

/** Eye centres from the mesh's eye corners (MediaPipe points 33/133 and 263/362). */
export function interOcular(mesh: Float64Array): number {
  const lx = (mesh[2 * 33]! + mesh[2 * 133]!) / 2, ly = (mesh[2 * 33 + 1]! + mesh[2 * 133 + 1]!) / 2;
  const rx = (mesh[2 * 263]! + mesh[2 * 362]!) / 2, ry = (mesh[2 * 263 + 1]! + mesh[2 * 362 + 1]!) / 2;
  return Math.hypot(rx - lx, ry - ly);
}

/**
 * Pose and expression fidelity: the mean distance between the output's mesh
 * points and the target's (all 468, both found by the same detection of a
 * crop around the face), in units of the target's inter-ocular distance.
 * 0 = the output's face sits, turns and moves its mouth and eyes exactly as
 * the target's did.
 */
export function landmarkError(output: Float64Array, target: Float64Array): number {
  const n = target.length / 2;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.hypot(output[2 * i]! - target[2 * i]!, output[2 * i + 1]! - target[2 * i + 1]!);
  return sum / n / (interOcular(target) || 1);
}

export interface Seam {
  /** Σ|∇(output − target)|² over the boundary band / Σ|∇target|² there: what the blend added; 0 = no seam. */
  seam: number;
  /** Σ|∇output|² / Σ|∇target|² over the same band (1 = as much edge energy as the target had there). */
  ratio: number;
  /** Pixels the swap changed, and in the band. */
  changed: number;
  band: number;
}

/**
 * Seam visibility around the face in `box`. The blended region is the set of
 * pixels the swap changed (closed by a small blur, so dither-equal pixels
 * inside do not punch holes); the band is every pixel within `halfWidth`
 * (Chebyshev) of that region's edge, on both sides. A hard cut, a tone step or
 * a texture jump at the mask's edge all put gradient into output − target
 * there; a seamless blend puts little. Null when the swap changed nothing.
 *
 * `threshold` > 0 counts a pixel as changed only when some channel differs by
 * more than that many levels: the band then sits on the *visible* edge of the
 * change. With 0 (the bench's seam figure) a blend that spreads a faint,
 * smooth tone shift outside the face moves the band out onto that shift and
 * away from whatever step or texture jump it leaves further in; the
 * thresholded figure still sees it.
 */
export function seamVisibility(output: Rgb, target: Rgb, box: Box, halfWidth = Math.max(2, Math.round(box[2] * 0.02)), threshold = 0): Seam | null {
  const gx = box[2] * 0.6, gy = box[3] * 0.6;
  const x0 = Math.max(0, Math.floor(box[0] - gx)), y0 = Math.max(0, Math.floor(box[1] - gy));
  const x1 = Math.min(target.width, Math.ceil(box[0] + box[2] + gx)), y1 = Math.min(target.height, Math.ceil(box[1] + box[3] + gy));
  const w = x1 - x0, h = y1 - y0;
  if (w < 3 || h < 3) return null;
  const changedPlane = new Float32Array(w * h);
  let changed = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const p = ((y0 + y) * target.width + x0 + x) * 3;
    if (Math.abs(output.data[p]! - target.data[p]!) > threshold || Math.abs(output.data[p + 1]! - target.data[p + 1]!) > threshold
      || Math.abs(output.data[p + 2]! - target.data[p + 2]!) > threshold) {
      changedPlane[y * w + x] = 1;
      changed++;
    }
  }
  if (changed === 0) return null;
  const closed = blurPlane(changedPlane, w, h, 2);
  // Integral image of the region, for the band test in O(1) per pixel.
  const sat = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += closed[y * w + x]! > 0.5 ? 1 : 0;
      sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1]! + row;
    }
  }
  const r = halfWidth;
  let num = 0, out = 0, den = 0, band = 0;
  for (let y = 0; y < h - 1; y++) for (let x = 0; x < w - 1; x++) {
    const ax = Math.max(0, x - r), ay = Math.max(0, y - r), bx = Math.min(w, x + r + 1), by = Math.min(h, y + r + 1);
    const inside = sat[by * (w + 1) + bx]! - sat[ay * (w + 1) + bx]! - sat[by * (w + 1) + ax]! + sat[ay * (w + 1) + ax]!;
    if (inside === 0 || inside === (bx - ax) * (by - ay)) continue;
    band++;
    const p = ((y0 + y) * target.width + x0 + x) * 3;
    const px = p + 3, py = p + target.width * 3;
    for (let c = 0; c < 3; c++) {
      const t = target.data[p + c]!, o = output.data[p + c]!;
      const tdx = target.data[px + c]! - t, tdy = target.data[py + c]! - t;
      const odx = output.data[px + c]! - o, ody = output.data[py + c]! - o;
      den += tdx * tdx + tdy * tdy;
      out += odx * odx + ody * ody;
      num += (odx - tdx) ** 2 + (ody - tdy) ** 2;
    }
  }
  if (band === 0 || den === 0) return null;
  return { seam: num / den, ratio: out / den, changed, band };
}
