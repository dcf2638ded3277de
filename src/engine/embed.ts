// Face identity embeddings with Human's description model (faceres), for the
// quality figure: how much a swapped face looks like the source person.
// Human's packaged faceres.json lists the 1024-value descriptor output
// (global_pooling/Mean) in its signature, but the loaded graph model exposes
// only the age and gender heads, so Human returns an empty embedding. We run
// the same model on the same input Human prepares (its aligned face crop,
// resized to 224², scaled to 0..255) and ask for that node by name.
import type { Human } from '@vladmandic/human';
import { setDescription } from './human-loader.js';
import { MESH_POINTS } from './detect.js';
import { resizeImage, type RgbImage } from './image-io.js';

export const EMBEDDING_NODE = 'global_pooling/Mean';
/** Faces are embedded from a crop this much larger than their box, scaled to at most this side. */
const CROP_GROW = 0.5;
const CROP_MAX_SIDE = 448;

type Box = [number, number, number, number];

function crop(img: RgbImage, box: Box): { img: RgbImage; x: number; y: number } {
  const gx = box[2] * CROP_GROW, gy = box[3] * CROP_GROW;
  const x0 = Math.max(0, Math.floor(box[0] - gx)), y0 = Math.max(0, Math.floor(box[1] - gy));
  const x1 = Math.min(img.width, Math.ceil(box[0] + box[2] + gx)), y1 = Math.min(img.height, Math.ceil(box[1] + box[3] + gy));
  const w = x1 - x0, h = y1 - y0;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x1) * 3), y * w * 3);
  return { img: { data, width: w, height: h }, x: x0, y: y0 };
}

export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! * a[i]!; nb += b[i]! * b[i]!; }
  return dot / (Math.sqrt(na * nb) || 1);
}

export interface FaceDescription {
  /** Human's 1024-value identity embedding. */
  embedding: number[];
  /** The face's 468 mesh points found in the same pass, x and y in pixels of the whole image. */
  mesh: Float64Array;
}

/**
 * The embedding of the face in `box` (the most central detected face of a
 * crop around it), or null when no face is found there. The Human instance
 * must be loaded with `description: true`.
 */
export async function embedFace(human: Human, img: RgbImage, box: Box): Promise<number[] | null> {
  return (await describeFace(human, img, box))?.embedding ?? null;
}

/**
 * The embedding and the mesh of the face in `box`, from one detection of a
 * crop around it (the quality figures compare both with the original
 * target's, measured the same way), or null when no face is found there.
 */
export async function describeFace(human: Human, img: RgbImage, box: Box): Promise<FaceDescription | null> {
  const model = (human.models as unknown as { models: Record<string, { execute(x: unknown, out: string): { data(): Promise<Float32Array>; dispose(): void } } | null> }).models.faceres;
  if (!model) throw new Error('embedFace needs Human loaded with the description model');
  const cropped = crop(img, box);
  let region = cropped.img;
  const longest = Math.max(region.width, region.height);
  if (longest > CROP_MAX_SIDE) {
    const s = CROP_MAX_SIDE / longest;
    region = await resizeImage(region, Math.round(region.width * s), Math.round(region.height * s));
  }
  const scale = cropped.img.width / region.width;
  const tf = human.tf;
  const input = tf.tensor3d(region.data, [region.height, region.width, 3], 'int32');
  setDescription(human, true);
  let result;
  try {
    result = await human.detect(input);
  } finally {
    setDescription(human, false);
    input.dispose();
  }
  const cx = region.width / 2, cy = region.height / 2;
  let best: (typeof result.face)[number] | null = null;
  let bestD = Infinity;
  for (const f of result.face) {
    const d = Math.hypot(f.box[0] + f.box[2] / 2 - cx, f.box[1] + f.box[3] / 2 - cy);
    if (f.tensor && d < bestD) { best = f; bestD = d; }
  }
  let described: FaceDescription | null = null;
  if (best?.tensor && best.mesh && best.mesh.length >= MESH_POINTS) {
    const face = best.tensor;
    const x = tf.tidy(() => tf.mul(tf.image.resizeBilinear(tf.expandDims(face, 0) as never, [224, 224], false), 255));
    const out = model.execute(x, EMBEDDING_NODE);
    const embedding = Array.from(await out.data());
    out.dispose();
    x.dispose();
    const mesh = new Float64Array(MESH_POINTS * 2);
    for (let i = 0; i < MESH_POINTS; i++) {
      mesh[2 * i] = cropped.x + best.mesh[i]![0] * scale;
      mesh[2 * i + 1] = cropped.y + best.mesh[i]![1] * scale;
    }
    described = { embedding, mesh };
  }
  for (const f of result.face) f.tensor?.dispose();
  return described;
}
