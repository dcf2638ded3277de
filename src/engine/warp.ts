// Piecewise-affine warp of the source face onto the target face: every
// triangle of Human's mesh triangulation is mapped by the affine transform its
// three landmark pairs define. The warp runs backwards (for each target pixel,
// where in the source it comes from), so there are no holes, and the source
// is sampled with the requested interpolation kernel.
//
// Triangles are kept only when both faces show them reliably: facing the
// camera in both (a triangle whose winding flips against the canonical layout
// is turned away, i.e. hidden by the face itself), not squashed nearly flat in
// the source (seen edge-on: its texture is a smear), and, with the `inner`
// mask, not in the upper forehead, where hair and hats usually are.
import { blurPlane } from './blur.js';
import type { RgbImage } from './image-io.js';
import type { Sampler } from './sampling.js';
import type { FaceTopology } from './topology.js';

export interface Roi { x: number; y: number; w: number; h: number }
export type MaskShape = 'oval' | 'inner';

/** Points of a mesh as flat x, y pairs. */
export type Mesh2D = Float64Array;

function signedAreas(mesh: Mesh2D, topo: FaceTopology): Float64Array {
  const t = topo.triangles, n = t.length / 3;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = t[3 * i]!, b = t[3 * i + 1]!, c = t[3 * i + 2]!;
    out[i] = (mesh[2 * b]! - mesh[2 * a]!) * (mesh[2 * c + 1]! - mesh[2 * a + 1]!) - (mesh[2 * c]! - mesh[2 * a]!) * (mesh[2 * b + 1]! - mesh[2 * a + 1]!);
  }
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : 0;
}

/** Which triangles to warp (1) and which to leave as the target shows them (0). */
export function selectTriangles(topo: FaceTopology, srcMesh: Mesh2D, dstMesh: Mesh2D, shape: MaskShape): Uint8Array {
  const n = topo.triangles.length / 3;
  const aS = signedAreas(srcMesh, topo), aT = signedAreas(dstMesh, topo);
  let gS = 0, gT = 0;
  for (let i = 0; i < n; i++) {
    const u = Math.sign(topo.uvArea[i]!);
    gS += aS[i]! * u; gT += aT[i]! * u;
  }
  const sS = Math.sign(gS) || 1, sT = Math.sign(gT) || 1;
  const ratioS: number[] = [], ratioT: number[] = [];
  for (let i = 0; i < n; i++) {
    const uva = Math.abs(topo.uvArea[i]!) || 1e-9;
    ratioS.push(Math.abs(aS[i]!) / uva);
    ratioT.push(Math.abs(aT[i]!) / uva);
  }
  const medS = median(ratioS), medT = median(ratioT);
  const foreheadCut = topo.topV + 0.5 * (topo.browV - topo.topV);
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.sign(topo.uvArea[i]!);
    if (Math.sign(aS[i]!) * sS !== u || Math.sign(aT[i]!) * sT !== u) continue;
    if (ratioS[i]! < 0.2 * medS || ratioT[i]! < 0.1 * medT) continue;
    if (shape === 'inner' && topo.uvCentroidV[i]! < foreheadCut) continue;
    keep[i] = 1;
  }
  return keep;
}

/** The target-image box around the kept triangles, grown by `margin` and clipped to the image. */
export function roiOf(topo: FaceTopology, dstMesh: Mesh2D, keep: Uint8Array, width: number, height: number, margin: number): Roi | null {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  const t = topo.triangles;
  for (let i = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    for (let k = 0; k < 3; k++) {
      const p = t[3 * i + k]!;
      const x = dstMesh[2 * p]!, y = dstMesh[2 * p + 1]!;
      if (x < x0) x0 = x; if (x > x1) x1 = x;
      if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
  }
  if (!Number.isFinite(x0)) return null;
  const x = Math.max(0, Math.floor(x0 - margin)), y = Math.max(0, Math.floor(y0 - margin));
  const xe = Math.min(width, Math.ceil(x1 + margin) + 1), ye = Math.min(height, Math.ceil(y1 + margin) + 1);
  if (xe - x < 2 || ye - y < 2) return null;
  return { x, y, w: xe - x, h: ye - y };
}

export interface Warped {
  /** Float RGB over the ROI (0..255), valid where `cover` is 1. */
  rgb: Float32Array;
  /** 1 where a kept triangle covers the pixel. */
  cover: Uint8Array;
  /** The triangle covering each pixel, -1 for none. */
  triangle: Int16Array;
  pixels: number;
}

/**
 * Warp the kept triangles of `src` (landmarks `srcMesh`) onto the ROI of the
 * target (landmarks `dstMesh`). `mirrored` samples the source flipped left to
 * right (srcMesh is then already given in flipped coordinates).
 */
export function warpTriangles(
  src: RgbImage, srcMesh: Mesh2D, dstMesh: Mesh2D, topo: FaceTopology, keep: Uint8Array,
  roi: Roi, sample: Sampler, mirrored: boolean,
): Warped {
  const rgb = new Float32Array(roi.w * roi.h * 3);
  const cover = new Uint8Array(roi.w * roi.h);
  const triangle = new Int16Array(roi.w * roi.h).fill(-1);
  const t = topo.triangles;
  const flipX = src.width - 1;
  let pixels = 0;
  for (let i = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    const a = t[3 * i]!, b = t[3 * i + 1]!, c = t[3 * i + 2]!;
    const ax = dstMesh[2 * a]!, ay = dstMesh[2 * a + 1]!;
    const bx = dstMesh[2 * b]!, by = dstMesh[2 * b + 1]!;
    const cx = dstMesh[2 * c]!, cy = dstMesh[2 * c + 1]!;
    const det = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay);
    if (Math.abs(det) < 1e-6) continue;
    const Ax = srcMesh[2 * a]!, Ay = srcMesh[2 * a + 1]!;
    const Bx = srcMesh[2 * b]!, By = srcMesh[2 * b + 1]!;
    const Cx = srcMesh[2 * c]!, Cy = srcMesh[2 * c + 1]!;
    const xs = Math.max(roi.x, Math.floor(Math.min(ax, bx, cx)));
    const xe = Math.min(roi.x + roi.w - 1, Math.ceil(Math.max(ax, bx, cx)));
    const ys = Math.max(roi.y, Math.floor(Math.min(ay, by, cy)));
    const ye = Math.min(roi.y + roi.h - 1, Math.ceil(Math.max(ay, by, cy)));
    const inv = 1 / det;
    const eps = -1e-7;
    for (let y = ys; y <= ye; y++) {
      for (let x = xs; x <= xe; x++) {
        const l1 = ((bx - x) * (cy - y) - (cx - x) * (by - y)) * inv;
        const l2 = ((cx - x) * (ay - y) - (ax - x) * (cy - y)) * inv;
        const l3 = 1 - l1 - l2;
        if (l1 < eps || l2 < eps || l3 < eps) continue;
        const k = (y - roi.y) * roi.w + (x - roi.x);
        if (cover[k]) continue;
        let sx = l1 * Ax + l2 * Bx + l3 * Cx;
        const sy = l1 * Ay + l2 * By + l3 * Cy;
        if (mirrored) sx = flipX - sx;
        sample(src, sx, sy, rgb, k * 3);
        cover[k] = 1;
        triangle[k] = i;
        pixels++;
      }
    }
  }
  return { rgb, cover, triangle, pixels };
}

/** The source mesh as seen in the source flipped left to right: point i takes its mirror partner's place. */
export function mirroredMesh(mesh: Mesh2D, topo: FaceTopology, width: number): Mesh2D {
  const out = new Float64Array(mesh.length);
  for (let i = 0; i < topo.mirror.length; i++) {
    const j = topo.mirror[i]!;
    out[2 * i] = width - 1 - mesh[2 * j]!;
    out[2 * i + 1] = mesh[2 * j + 1]!;
  }
  return out;
}

/**
 * Close the cracks the dropped triangles leave inside the face (a triangle
 * turned away or squashed flat in either mesh: the eyelids of closed eyes,
 * the side of the nose on a turned head, the lip line), in place. Left open,
 * each is a thin line of the target's own face through the pasted one: the
 * blend treats it as an edge, and a blend that keeps the face's tone whole up
 * to its edges draws those lines sharply. An uncovered pixel is filled when
 * more than `closeAt` of its surroundings (a blur of radius `radius`) are
 * covered, i.e. it is hemmed in on both sides, not on the face's outline;
 * its colour is the covered neighbours' normalised average. Returns the
 * filled pixels (null when none).
 */
export function closeCracks(warped: Warped, roi: Roi, radius: number, closeAt = 0.6): Uint8Array | null {
  const n = roi.w * roi.h;
  const cov = new Float32Array(n);
  for (let k = 0; k < n; k++) cov[k] = warped.cover[k]!;
  const near = blurPlane(cov, roi.w, roi.h, radius);
  let filled = 0;
  const fill = new Uint8Array(n);
  for (let k = 0; k < n; k++) if (!warped.cover[k] && near[k]! > closeAt) { fill[k] = 1; filled++; }
  if (!filled) return null;
  for (let c = 0; c < 3; c++) {
    const plane = new Float32Array(n);
    for (let k = 0; k < n; k++) plane[k] = warped.cover[k] ? warped.rgb[3 * k + c]! : 0;
    const num = blurPlane(plane, roi.w, roi.h, radius);
    for (let k = 0; k < n; k++) if (fill[k]) warped.rgb[3 * k + c] = num[k]! / near[k]!;
  }
  for (let k = 0; k < n; k++) if (fill[k]) warped.cover[k] = 1;
  warped.pixels += filled;
  return fill;
}
