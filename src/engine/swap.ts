// The engine's one entry point: decode, detect, number, pair, warp, recolour,
// blend, encode. Pure function of its inputs and seed (no clocks, no global
// randomness), so the same request gives the same bytes.
import { createHash } from 'node:crypto';
import type { Human } from '@vladmandic/human';
import { seededRandom } from '../util/seeded-random.js';
import { compositeInto, membraneCorrect, type BlendMode } from './blend.js';
import { transferColour, type ColourOutcome } from './colour.js';
import { detectFaces, orderFaces, type DetectedFace, type FaceOrder } from './detect.js';
import { decodeImage, encodeImage, ImageDecodeError, type ImageFormat, type Interpolation, type RgbImage } from './image-io.js';
import { featherMask, featherRadius } from './mask.js';
import { samplerFor } from './sampling.js';
import type { FaceTopology } from './topology.js';
import { rejectOccluders, triangleRegions } from './occlusion.js';
import { mirroredMesh, roiOf, selectTriangles, warpTriangles, type MaskShape } from './warp.js';

export interface SwapStrategy {
  mask: MaskShape;
  blend: BlendMode;
  /** Lab mean/std colour transfer before blending. */
  colour: boolean;
  /** Mirror the source face when that matches the target's head turn better. */
  poseMatch: boolean;
  /** Leave pixels that are not skin-like (hair, hands, glasses) in either face as the target shows them. */
  occluders: boolean;
}

/** The default, chosen with the identity figure of bench/local-engine.ts (docs/LOCAL-ENGINE.md). */
export const DEFAULT_STRATEGY: SwapStrategy = { mask: 'oval', blend: 'membrane', colour: true, poseMatch: true, occluders: false };

export interface SwapRequest {
  source: Buffer;
  target: Buffer;
  /** Source face numbers; pair k uses sourceIndices[min(k, length - 1)]. */
  sourceIndices: number[];
  /** Target face numbers, one pair each, applied in list order. */
  targetIndices: number[];
  order: FaceOrder;
  interpolation: Interpolation;
  format: ImageFormat;
  quality: number;
  seed: number;
  /** Engine internals for the benchmark's strategy comparison; defaults to DEFAULT_STRATEGY. */
  strategy?: Partial<SwapStrategy>;
}

export type SwapFailureCode = 'NO_FACE_DETECTED' | 'FACE_INDEX_OUT_OF_RANGE' | 'INVALID_INPUT';

export interface SwapPair {
  source: number;
  target: number;
  mirrored: boolean;
  colour: ColourOutcome;
  /** Warped pixels; 0 when every triangle was dropped (nothing changed for this pair). */
  pixels: number;
}

export type SwapResult =
  | {
    ok: true; bytes: Buffer; mimeType: string;
    /** How many faces were found in each image. */
    faces: { source: number; target: number };
    pairs: SwapPair[];
    /** Target face boxes in the requested numbering (x, y, w, h). */
    targetBoxes: Array<[number, number, number, number]>;
    timingsMs: Record<string, number>;
  }
  | { ok: false; code: SwapFailureCode; message: string };

export interface EngineContext {
  human: Human;
  topology: FaceTopology;
  /** Each triangle's role for occluder rejection (occlusion.ts). */
  regions?: ReturnType<typeof triangleRegions>;
  /**
   * Optional memo of decoded images and their faces, keyed by the input bytes'
   * hash. Off in production (a job's images are new); the benchmark's
   * identity figure turns it on to run several strategies over the same
   * photos without detecting them again. Results are identical either way.
   */
  memo?: Map<string, { image: RgbImage; faces: DetectedFace[] }>;
  memoSize?: number;
}

async function decodeAndDetect(ctx: EngineContext, bytes: Buffer, timings: Record<string, number>, name: string) {
  const key = ctx.memo ? createHash('sha256').update(bytes).digest('hex') : '';
  const hit = ctx.memo?.get(key);
  if (hit) return hit;
  const t0 = performance.now();
  const image = await decodeImage(bytes);
  const t1 = performance.now();
  const entry = { image, faces: await detectFaces(ctx.human, image) };
  timings[`decode${name}`] = Math.round((t1 - t0) * 10) / 10;
  timings[`detect${name}`] = Math.round((performance.now() - t1) * 10) / 10;
  if (ctx.memo) {
    ctx.memo.set(key, entry);
    while (ctx.memo.size > (ctx.memoSize ?? 16)) ctx.memo.delete(ctx.memo.keys().next().value!);
  }
  return entry;
}

/** Source index for pair k: the lists are zipped; when sources run out the last one is reused. */
export function pairUp(sourceIndices: readonly number[], targetIndices: readonly number[]): Array<{ source: number; target: number }> {
  return targetIndices.map((target, k) => ({ source: sourceIndices[Math.min(k, sourceIndices.length - 1)]!, target }));
}

function checkIndices(list: readonly number[], what: string): string | null {
  if (list.length === 0) return `${what} must list at least one face index`;
  const bad = list.find((i) => !Number.isInteger(i) || i < 0);
  return bad === undefined ? null : `${what} must be non-negative integers, got ${bad}`;
}

/**
 * Mirror the source when its head turn, mirrored, is clearly closer to the
 * target's (≥ ~9° better): a face photographed turned left then lends the
 * side the target actually shows.
 */
export function shouldMirror(sourceYaw: number, targetYaw: number): boolean {
  return Math.abs(-sourceYaw - targetYaw) + 0.15 < Math.abs(sourceYaw - targetYaw);
}

export async function swapFaces(ctx: EngineContext, req: SwapRequest): Promise<SwapResult> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round((now - t) * 10) / 10;
    t = now;
  };
  const start = t;
  const strategy = { ...DEFAULT_STRATEGY, ...req.strategy };
  const indexProblem = checkIndices(req.sourceIndices, 'source_faces_index') ?? checkIndices(req.targetIndices, 'input_faces_index');
  if (indexProblem) return { ok: false, code: 'INVALID_INPUT', message: indexProblem };

  let source: RgbImage, target: RgbImage, sourceFaces: DetectedFace[], targetFaces: DetectedFace[];
  try {
    const src = await decodeAndDetect(ctx, req.source, timings, 'Source');
    const tgt = await decodeAndDetect(ctx, req.target, timings, 'Target');
    source = src.image; target = tgt.image;
    sourceFaces = orderFaces(src.faces, req.order);
    targetFaces = orderFaces(tgt.faces, req.order);
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, code: 'INVALID_INPUT', message: err.message };
    throw err;
  }
  if (sourceFaces.length === 0) return { ok: false, code: 'NO_FACE_DETECTED', message: 'no face was detected in the source image' };
  if (targetFaces.length === 0) return { ok: false, code: 'NO_FACE_DETECTED', message: 'no face was detected in the target image' };
  const srcOut = req.sourceIndices.find((i) => i >= sourceFaces.length);
  if (srcOut !== undefined) {
    return { ok: false, code: 'FACE_INDEX_OUT_OF_RANGE', message: `source_faces_index ${srcOut} is out of range: the source image has ${sourceFaces.length} face(s), numbered 0-${sourceFaces.length - 1} (${req.order})` };
  }
  const tgtOut = req.targetIndices.find((i) => i >= targetFaces.length);
  if (tgtOut !== undefined) {
    return { ok: false, code: 'FACE_INDEX_OUT_OF_RANGE', message: `input_faces_index ${tgtOut} is out of range: the target image has ${targetFaces.length} face(s), numbered 0-${targetFaces.length - 1} (${req.order})` };
  }

  const out: RgbImage = { data: Uint8Array.from(target.data), width: target.width, height: target.height };
  const sample = samplerFor(req.interpolation);
  const pairs: SwapPair[] = [];
  timings.warp = 0; timings.colour = 0; timings.blend = 0;
  pairUp(req.sourceIndices, req.targetIndices).forEach((pair, k) => {
    const sf: DetectedFace = sourceFaces[pair.source]!;
    const tf: DetectedFace = targetFaces[pair.target]!;
    let p0 = performance.now();
    const mirrored = strategy.poseMatch && shouldMirror(sf.yaw, tf.yaw);
    const srcMesh = mirrored ? mirroredMesh(sf.mesh, ctx.topology, source.width) : sf.mesh;
    const keep = selectTriangles(ctx.topology, srcMesh, tf.mesh, strategy.mask);
    const radius = featherRadius(tf.box[2]);
    const roi = roiOf(ctx.topology, tf.mesh, keep, target.width, target.height, 2);
    if (!roi) {
      pairs.push({ ...pair, mirrored, colour: 'skipped', pixels: 0 });
      return;
    }
    const warped = warpTriangles(source, srcMesh, tf.mesh, ctx.topology, keep, roi, sample, mirrored);
    const alpha = featherMask(warped.cover, roi.w, roi.h, strategy.blend === 'membrane' ? radius / 2 : radius);
    if (strategy.occluders) {
      ctx.regions ??= triangleRegions(ctx.topology);
      rejectOccluders(alpha, warped, target, roi, ctx.regions, Math.max(2, tf.box[2] * 0.02));
    }
    let p1 = performance.now();
    timings.warp! += p1 - p0; p0 = p1;
    const colour = strategy.colour ? transferColour(warped.rgb, alpha, target, roi) : 'skipped';
    p1 = performance.now();
    timings.colour! += p1 - p0; p0 = p1;
    if (strategy.blend === 'membrane') membraneCorrect(warped.rgb, warped.cover, target, roi, Math.max(4, tf.box[2] * 0.25));
    compositeInto(out, warped.rgb, alpha, roi, seededRandom((req.seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0));
    timings.blend! += performance.now() - p0;
    pairs.push({ ...pair, mirrored, colour, pixels: warped.pixels });
  });
  for (const key of ['warp', 'colour', 'blend']) timings[key] = Math.round(timings[key]! * 10) / 10;
  t = performance.now();
  const encoded = await encodeImage(out, req.format, req.quality);
  lap('encode');
  timings.total = Math.round((performance.now() - start) * 10) / 10;
  return {
    ok: true,
    bytes: encoded.bytes,
    mimeType: encoded.mimeType,
    faces: { source: sourceFaces.length, target: targetFaces.length },
    pairs,
    targetBoxes: targetFaces.map((f) => f.box),
    timingsMs: timings,
  };
}
