// Face detection with Human (blazeface + the 468-point face mesh), and the six
// `detection_face_order` numberings. Detection runs on a copy scaled so its
// longest side is at most DETECT_MAX_SIDE: Human's cost grows with the input
// size (it pads, resizes and rotates the whole frame per face) while the mesh
// model sees a 192 px crop of each face anyway, so a larger frame adds time
// and hardly any landmark precision. Coordinates are scaled back to the
// original image.
import type { Human } from '@vladmandic/human';
import { resizeImage, type RgbImage } from './image-io.js';

export const DETECT_MAX_SIDE = 640;
export const MESH_POINTS = 468;

export type FaceOrder = 'large-small' | 'small-large' | 'top-bottom' | 'bottom-top' | 'left-right' | 'right-left';
export const FACE_ORDERS: readonly FaceOrder[] = ['large-small', 'small-large', 'top-bottom', 'bottom-top', 'left-right', 'right-left'];

export interface DetectedFace {
  /** x, y, width, height in pixels of the original image. */
  box: [number, number, number, number];
  /** Human's overall face score, 0..1. */
  score: number;
  /** Mesh confidence, 0..1. */
  meshScore: number;
  /** 468 points, x and y in pixels of the original image (2 numbers a point). */
  mesh: Float64Array;
  /** Relative depth per point (Human's z, scaled like x). */
  depth: Float64Array;
  /** Head yaw in radians (Human's estimate); 0 when unknown. */
  yaw: number;
}

/** Human's input for a packed RGB image. */
function toTensor(human: Human, img: RgbImage) {
  return human.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
}

export async function detectFaces(human: Human, img: RgbImage): Promise<DetectedFace[]> {
  const longest = Math.max(img.width, img.height);
  const scale = longest > DETECT_MAX_SIDE ? DETECT_MAX_SIDE / longest : 1;
  const small = scale < 1
    ? await resizeImage(img, Math.max(1, Math.round(img.width * scale)), Math.max(1, Math.round(img.height * scale)), 'Bilinear')
    : img;
  const sx = img.width / small.width, sy = img.height / small.height;
  const input = toTensor(human, small);
  let result;
  try {
    result = await human.detect(input);
  } finally {
    input.dispose();
  }
  const faces: DetectedFace[] = [];
  for (const f of result.face) f.tensor?.dispose(); // only returned when the description model is on
  for (const f of result.face) {
    if (!f.mesh || f.mesh.length < MESH_POINTS) continue; // a box without a mesh cannot be warped
    const mesh = new Float64Array(MESH_POINTS * 2);
    const depth = new Float64Array(MESH_POINTS);
    for (let i = 0; i < MESH_POINTS; i++) {
      const p = f.mesh[i]!;
      mesh[2 * i] = p[0] * sx;
      mesh[2 * i + 1] = p[1] * sy;
      depth[i] = (p[2] ?? 0) * sx;
    }
    faces.push({
      box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy],
      score: f.score,
      meshScore: f.faceScore,
      mesh,
      depth,
      yaw: f.rotation?.angle.yaw ?? 0,
    });
  }
  return faces;
}

/**
 * Number faces the way `detection_face_order` says. Ties (equal keys) fall
 * back to left-right, then top-bottom, so the numbering is total and stable.
 */
export function orderFaces<T extends { box: [number, number, number, number] }>(faces: readonly T[], order: FaceOrder): T[] {
  const area = (f: T) => f.box[2] * f.box[3];
  const cx = (f: T) => f.box[0] + f.box[2] / 2;
  const cy = (f: T) => f.box[1] + f.box[3] / 2;
  const key: Record<FaceOrder, (a: T, b: T) => number> = {
    'large-small': (a, b) => area(b) - area(a),
    'small-large': (a, b) => area(a) - area(b),
    'top-bottom': (a, b) => cy(a) - cy(b),
    'bottom-top': (a, b) => cy(b) - cy(a),
    'left-right': (a, b) => cx(a) - cx(b),
    'right-left': (a, b) => cx(b) - cx(a),
  };
  return [...faces].sort((a, b) => key[order](a, b) || cx(a) - cx(b) || cy(a) - cy(b));
}
