// Occluder rejection: hair strands, hands, glasses or shadows that cover part
// of a face are not skin, and the mesh cannot see them (it fits the face
// under them). For source and target separately, a robust skin model (median
// and MAD in Lab) is taken from the cheeks and the nose bridge; a pixel of the
// face, outside the eyes, brows, nostrils and mouth (which are meant to
// differ from skin), that is far from that model in either image is left as
// the target shows it. The rejection map is smoothed before it scales the
// blend mask, so single pixels never punch holes.
import { blurPlane } from './blur.js';
import { rgbToLab, toLinear } from './colour.js';
import type { RgbImage } from './image-io.js';
import { robustSkinModel, type SkinModel } from './skin-model.js';
import type { FaceTopology } from './topology.js';
import type { Roi, Warped } from './warp.js';

type Region = 'skin' | 'feature' | 'other';

const inBox = (u: number, v: number, u0: number, u1: number, v0: number, v1: number) => u >= u0 && u <= u1 && v >= v0 && v <= v1;

/** Each triangle's role, from its centroid in the canonical UV layout. */
export function triangleRegions(topo: FaceTopology): Region[] {
  const out: Region[] = [];
  const t = topo.triangles;
  for (let i = 0; i < t.length / 3; i++) {
    let u = 0, v = 0;
    for (let k = 0; k < 3; k++) { u += topo.uv[2 * t[3 * i + k]!]! / 3; v += topo.uv[2 * t[3 * i + k]! + 1]! / 3; }
    const eyeOrBrow = v >= 0.2 && v <= 0.45 && ((u >= 0.17 && u <= 0.47) || (u >= 0.53 && u <= 0.83));
    const nostrils = inBox(u, v, 0.4, 0.6, 0.55, 0.68);
    const mouth = inBox(u, v, 0.32, 0.68, 0.68, 0.86);
    if (eyeOrBrow || nostrils || mouth) out.push('feature');
    else if (inBox(u, v, 0.22, 0.4, 0.47, 0.66) || inBox(u, v, 0.6, 0.78, 0.47, 0.66) || inBox(u, v, 0.45, 0.55, 0.42, 0.55)) out.push('skin');
    else out.push('other');
  }
  return out;
}


const SCALE_FLOOR = [6, 3, 3];
/** A pixel this many robust deviations from skin (combined over L, a, b) counts as an occluder. */
const LIMIT = 4;

function skinModel(lab: Float64Array, skin: Uint8Array, n: number): SkinModel | null {
  return robustSkinModel(lab, (k) => skin[k] !== 0, n, { maxSamples: 4000, scaleFloor: SCALE_FLOOR });
}

function distance(lab: Float64Array, k: number, m: SkinModel): number {
  let d = 0;
  for (let c = 0; c < 3; c++) d += ((lab[3 * k + c]! - m.median[c]!) / m.scale[c]!) ** 2;
  return Math.sqrt(d);
}

/**
 * Scale `alpha` down where the source (warped) or the target shows an
 * occluder. Returns the share of face pixels rejected.
 */
export function rejectOccluders(alpha: Float32Array, warped: Warped, target: RgbImage, roi: Roi, regions: readonly Region[], radius: number): number {
  const n = roi.w * roi.h;
  const labS = new Float64Array(n * 3), labT = new Float64Array(n * 3);
  const skin = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const tri = warped.triangle[k]!;
    if (tri < 0) continue;
    rgbToLab(toLinear(warped.rgb[3 * k]!), toLinear(warped.rgb[3 * k + 1]!), toLinear(warped.rgb[3 * k + 2]!), labS, 3 * k);
    const p = ((roi.y + Math.floor(k / roi.w)) * target.width + roi.x + (k % roi.w)) * 3;
    rgbToLab(toLinear(target.data[p]!), toLinear(target.data[p + 1]!), toLinear(target.data[p + 2]!), labT, 3 * k);
    if (regions[tri] === 'skin') skin[k] = 1;
  }
  const mS = skinModel(labS, skin, n), mT = skinModel(labT, skin, n);
  if (!mS || !mT) return 0;
  const reject = new Float32Array(n);
  let faces = 0, rejected = 0;
  for (let k = 0; k < n; k++) {
    const tri = warped.triangle[k]!;
    if (tri < 0) continue;
    faces++;
    if (regions[tri] === 'feature') continue;
    const d = Math.max(distance(labS, k, mS), distance(labT, k, mT));
    if (d > LIMIT) { reject[k] = 1; rejected++; }
  }
  if (rejected === 0) return 0;
  const soft = blurPlane(reject, roi.w, roi.h, radius);
  for (let k = 0; k < n; k++) {
    if (alpha[k]! <= 0) continue;
    const r = Math.min(1, soft[k]! * 2);
    alpha[k] = alpha[k]! * (1 - r);
  }
  return rejected / faces;
}
