// The mask that stops at the hairline: the mesh fits the face under a fringe,
// a strand across the forehead or hair over the temples, so its oval carries
// the source's hair onto the target (and pastes over the target's own). Only
// where hair falls (the forehead above the brows and the ring of triangles
// along the face outline) a pixel far from its face's skin (a robust Lab
// model, median and MAD, from the cheeks and nose bridge) in the source or in
// the target is left as the target shows it. Eyes, brows, mouth and the middle
// of the face are never rejected: that is where identity is (the whole-face
// occluder rejection, occlusion.ts, lost it by rejecting shadows there).
import { blurPlane } from './blur.js';
import { rgbToLab, toLinear } from './colour.js';
import type { RgbImage } from './image-io.js';
import { robustSkinModel, type SkinModel } from './skin-model.js';
import { FACE_OVAL, type FaceTopology } from './topology.js';
import type { Roi, Warped } from './warp.js';

export type TriangleZone = 'skin' | 'hair-prone' | 'inner';

/** Each triangle's zone from the canonical layout: cheeks/nose bridge (skin model), forehead and outline (hair-prone), the rest. */
export function triangleZones(topo: FaceTopology): TriangleZone[] {
  const oval = new Set<number>(FACE_OVAL);
  const t = topo.triangles;
  const out: TriangleZone[] = [];
  for (let i = 0; i < t.length / 3; i++) {
    let u = 0, v = 0, onOval = false;
    for (let k = 0; k < 3; k++) {
      const p = t[3 * i + k]!;
      u += topo.uv[2 * p]! / 3; v += topo.uv[2 * p + 1]! / 3;
      if (oval.has(p)) onOval = true;
    }
    const inBox = (u0: number, u1: number, v0: number, v1: number) => u >= u0 && u <= u1 && v >= v0 && v <= v1;
    if (inBox(0.22, 0.4, 0.47, 0.66) || inBox(0.6, 0.78, 0.47, 0.66) || inBox(0.45, 0.55, 0.42, 0.55)) out.push('skin');
    else if (v < topo.browV - 0.02 || onOval) out.push('hair-prone');
    else out.push('inner');
  }
  return out;
}

const SCALE_FLOOR = [5, 2.5, 2.5];

function skinModel(lab: Float32Array, pick: (k: number) => boolean, n: number): SkinModel | null {
  return robustSkinModel(lab, pick, n, { maxSamples: 3000, scaleFloor: SCALE_FLOOR });
}

/** Robust distance from skin; lighter-than-skin (highlights) counts half, as hair is darker or differently coloured. */
function distance(lab: Float32Array, k: number, m: SkinModel): number {
  let dL = (lab[3 * k]! - m.median[0]!) / m.scale[0]!;
  if (dL > 0) dL *= 0.5;
  const da = (lab[3 * k + 1]! - m.median[1]!) / m.scale[1]!, db = (lab[3 * k + 2]! - m.median[2]!) / m.scale[2]!;
  return Math.sqrt(dL * dL + da * da + db * db);
}

const tmp = new Float64Array(3);
function labOf(r: number, g: number, b: number, out: Float32Array, o: number): void {
  rgbToLab(toLinear(r), toLinear(g), toLinear(b), tmp, 0);
  out[o] = tmp[0]!; out[o + 1] = tmp[1]!; out[o + 2] = tmp[2]!;
}

/** A pixel this far (robust deviations, combined) from its face's skin is hair or an occluder. */
export const HAIR_LIMIT = 4.5;

/**
 * Where to paste: the warped coverage minus hair and occluders in the
 * hair-prone zones of either face (smoothed over `radius`, so strands close
 * up and single pixels never punch holes). Returns the region (1 = paste) and
 * the share of covered pixels rejected.
 */
export function hairlineRegion(warped: Warped, target: RgbImage, roi: Roi, zones: readonly TriangleZone[], radius: number): { region: Uint8Array; rejected: number } {
  const n = roi.w * roi.h;
  const labS = new Float32Array(n * 3), labT = new Float32Array(n * 3);
  for (let k = 0; k < n; k++) {
    const tri = warped.triangle[k]!;
    if (tri < 0 || zones[tri] === 'inner') continue;
    labOf(warped.rgb[3 * k]!, warped.rgb[3 * k + 1]!, warped.rgb[3 * k + 2]!, labS, 3 * k);
    const p = ((roi.y + Math.floor(k / roi.w)) * target.width + roi.x + (k % roi.w)) * 3;
    labOf(target.data[p]!, target.data[p + 1]!, target.data[p + 2]!, labT, 3 * k);
  }
  const isSkin = (k: number) => warped.triangle[k]! >= 0 && zones[warped.triangle[k]!] === 'skin';
  const mS = skinModel(labS, isSkin, n), mT = skinModel(labT, isSkin, n);
  const region = new Uint8Array(n);
  for (let k = 0; k < n; k++) region[k] = warped.cover[k]!;
  if (!mS || !mT) return { region, rejected: 0 };
  const reject = new Float32Array(n);
  let hits = 0;
  for (let k = 0; k < n; k++) {
    const tri = warped.triangle[k]!;
    if (tri < 0 || zones[tri] !== 'hair-prone') continue;
    if (Math.max(distance(labS, k, mS), distance(labT, k, mT)) > HAIR_LIMIT) { reject[k] = 1; hits++; }
  }
  if (hits === 0) return { region, rejected: 0 };
  const soft = blurPlane(reject, roi.w, roi.h, radius);
  let rejected = 0, covered = 0;
  for (let k = 0; k < n; k++) {
    if (!region[k]) continue;
    covered++;
    if (soft[k]! > 0.3) { region[k] = 0; rejected++; }
  }
  return { region, rejected: rejected / (covered || 1) };
}

/**
 * 1 where the target's pixel in the ROI looks like its face's skin (within
 * HAIR_LIMIT of a robust model from its cheeks and nose bridge), 0 where it
 * does not (hair, background, clothes); null when there is too little skin
 * to model. For keeping a tone extension off the target's hair.
 */
export function targetSkinLikeness(warped: Warped, target: RgbImage, roi: Roi, zones: readonly TriangleZone[]): Float32Array | null {
  const n = roi.w * roi.h;
  const lab = new Float32Array(n * 3);
  for (let k = 0; k < n; k++) {
    const p = ((roi.y + Math.floor(k / roi.w)) * target.width + roi.x + (k % roi.w)) * 3;
    labOf(target.data[p]!, target.data[p + 1]!, target.data[p + 2]!, lab, 3 * k);
  }
  const m = skinModel(lab, (k) => warped.triangle[k]! >= 0 && zones[warped.triangle[k]!] === 'skin', n);
  if (!m) return null;
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) out[k] = distance(lab, k, m) > HAIR_LIMIT ? 0 : 1;
  return out;
}
