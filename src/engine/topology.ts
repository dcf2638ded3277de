// The face mesh's fixed structure, built once per thread from Human's own
// tables: the triangulation of the 468 points, their canonical UV layout (a
// frontal, unit-square face: u left→right as seen in the image, v top→down),
// the left/right mirror partner of every point (for mirrored-pose sources),
// and which triangles form the upper forehead (hair-prone).
import type { Human } from '@vladmandic/human';
import { MESH_POINTS } from './detect.js';

/** MediaPipe face-oval (silhouette) point indices, clockwise from the top of the forehead. */
export const FACE_OVAL = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
  152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
] as const;

export interface FaceTopology {
  /** Point indices, 3 a triangle. */
  triangles: Uint16Array;
  /** Canonical u, v per point. */
  uv: Float64Array;
  /** Signed doubled area of each triangle in UV space. */
  uvArea: Float64Array;
  /** v of each triangle's centroid in UV space (0 = top of forehead, ~0.95 = chin). */
  uvCentroidV: Float64Array;
  /** The mirror partner of every point (its own index on the symmetry line). */
  mirror: Uint16Array;
  /** v of the brows: above it is forehead. */
  browV: number;
  /** v of the top of the face oval. */
  topV: number;
}

export function buildTopology(human: Pick<Human, 'faceTriangulation' | 'faceUVMap'>): FaceTopology {
  const triangles = Uint16Array.from(human.faceTriangulation);
  const uv = new Float64Array(MESH_POINTS * 2);
  for (let i = 0; i < MESH_POINTS; i++) {
    const p = human.faceUVMap[i]!;
    uv[2 * i] = p[0];
    uv[2 * i + 1] = p[1];
  }
  const n = triangles.length / 3;
  const uvArea = new Float64Array(n);
  const uvCentroidV = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const a = triangles[3 * t]!, b = triangles[3 * t + 1]!, c = triangles[3 * t + 2]!;
    uvArea[t] = (uv[2 * b]! - uv[2 * a]!) * (uv[2 * c + 1]! - uv[2 * a + 1]!) - (uv[2 * c]! - uv[2 * a]!) * (uv[2 * b + 1]! - uv[2 * a + 1]!);
    uvCentroidV[t] = (uv[2 * a + 1]! + uv[2 * b + 1]! + uv[2 * c + 1]!) / 3;
  }
  const mirror = new Uint16Array(MESH_POINTS);
  for (let i = 0; i < MESH_POINTS; i++) {
    const mu = 1 - uv[2 * i]!, mv = uv[2 * i + 1]!;
    let best = i, bestD = Infinity;
    for (let j = 0; j < MESH_POINTS; j++) {
      const d = (uv[2 * j]! - mu) ** 2 + (uv[2 * j + 1]! - mv) ** 2;
      if (d < bestD) { bestD = d; best = j; }
    }
    mirror[i] = best;
  }
  // Brow points 105 and 334 (upper brow arcs); the oval's top is point 10.
  const browV = (uv[2 * 105 + 1]! + uv[2 * 334 + 1]!) / 2;
  const topV = uv[2 * 10 + 1]!;
  return { triangles, uv, uvArea, uvCentroidV, mirror, browV, topV };
}
