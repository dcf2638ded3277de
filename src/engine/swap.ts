// The engine's one entry point: decode, detect, number, pair, warp, recolour,
// blend, encode. Pure function of its inputs and seed (no clocks, no global
// randomness), so the same request gives the same bytes.
import { createHash } from 'node:crypto';
import type { Human } from '@vladmandic/human';
import { seededRandom } from '../util/seeded-random.js';
import { compositeInto, compositeLayers, compositeTwoBand, membraneCorrect, type BlendMode } from './blend.js';
import { transferColour, type ColourOutcome } from './colour.js';
import { detectFaces, orderFaces, type DetectedFace, type FaceOrder } from './detect.js';
import { decodeImage, encodeImage, ImageDecodeError, resizeImage, type ImageFormat, type Interpolation, type RgbImage } from './image-io.js';
import { distanceOutside, featherMask, featherRadius, rampValue, type Ramp } from './mask.js';
import { samplerFor } from './sampling.js';
import type { FaceTopology } from './topology.js';
import { hairlineRegion, targetSkinLikeness, triangleZones } from './hairline.js';
import { rejectOccluders, triangleRegions } from './occlusion.js';
import { poissonBlend } from './poisson.js';
import { liquifyOutline } from './liquify.js';
import { morphTowardsSource } from './shape.js';
import { closeCracks, mirroredMesh, roiOf, selectTriangles, warpTriangles, type MaskShape, type Roi } from './warp.js';

export interface SwapStrategy {
  /** oval/inner: the kept triangles (warp.ts); hairline: oval minus hair and occluders of either face (hairline.ts). */
  mask: MaskShape | 'hairline';
  /**
   * feather/membrane: blend.ts; poisson: gradient-domain (poisson.ts);
   * membrane+edge: the smooth membrane, then the exact Poisson correction of
   * what is left on the edge, fading out over the feather width.
   */
  blend: BlendMode | 'poisson' | 'membrane+edge';
  /** Feather width as a fraction of the face width; 0 or absent = the blend's own (feather 0.08, membrane 0.04, poisson 0.02). */
  feather?: number;
  /** Composite in two bands: fine texture fades in twice as far inside as tone (blend.ts#compositeTwoBand). */
  twoBand?: boolean;
  /** Move the target's inner landmarks this far (0..1) towards the source's own face shape (identity vs pose fidelity). */
  shape?: number;
  /**
   * Lab colour transfer before blending: true = mean/std over the face,
   * 'skin' = mean/std over skin only (no eyes, brows, mouth, hair),
   * 'skin-mean' = means only over skin (the source keeps its contrast).
   */
  colour: boolean | 'skin' | 'skin-mean';
  /** How the blend weight rises from the edge (mask.ts#rampValue); smoothstep when absent. */
  ramp?: Ramp;
  /**
   * Layered compositing (blend.ts#compositeLayers), as fractions of the face
   * width: `outward` extends the edge's smooth tone difference this far
   * outside the region (fading with `ramp`), `textureFeather` fades the
   * source's texture in over this width inside it (0 = texture taken whole).
   * Either one > 0 selects the layered compositing; the region's inside then
   * keeps the source's whole tone.
   */
  outward?: number;
  textureFeather?: number;
  /** membrane+edge: width (fraction of the face width) over which the exact edge correction fades inwards; 1.5 × the feather when absent. */
  edgeFade?: number;
  /**
   * membrane+edge: correct only the part of the edge's difference beyond this
   * many levels (RGB distance), so up to that much of the source's tone stays
   * on the edge (for `outward` to carry out); 0 or absent = exact.
   */
  edgeLimit?: number;
  /** Close the cracks dropped triangles leave inside the face (warp.ts#closeCracks), up to about this fraction of the face width across; 0 or absent = off. */
  closeCracks?: number;
  /** membrane: radius of the smooth edge correction as a fraction of the face width; 0.25 when absent (smaller follows the edge closer). */
  membraneRadius?: number;
  /**
   * Layered compositing: after blending a pair, look for a face at the
   * target's place in the output (Human's detector and mesh on a crop around
   * it); when none is found there, blend that pair the plain way instead
   * (the membrane-corrected face with the feathered mask).
   */
  faceCheck?: boolean;
  /**
   * Layered compositing: the edge's tone difference smoothed along the edge
   * over this radius (fraction of the face width) is what `outward` carries,
   * and the face's own tone fades to it over `edgeSmoothIn` inside the edge
   * (so blotches where the edge meets hair or ears are not spread outward).
   */
  edgeSmooth?: number;
  edgeSmoothIn?: number;
  /** With edgeSmooth: smooth only the colour of the edge's tone difference (its part beyond the grey), the lightness stays local. */
  edgeSmoothChroma?: boolean;
  /**
   * Layered compositing with `outward`: extend the tone only over the
   * target's skin-like pixels (not its hair or the background); where the
   * region borders hair, fade the face's tone in over this width (fraction
   * of the face width) instead. 0 or absent = off.
   */
  outwardSkinOnly?: number;
  /** With edgeSmoothChroma: cap the lightness difference on the edge (and outside) at this many levels; its excess fades in over edgeSmoothIn. */
  edgeLightLimit?: number;
  /** With closeCracks and layered compositing, 'target': a closed crack takes the face's tone but keeps the target's own texture (the lines of its eyelids, nose, lips); 'fill' (default): the neighbours' average. */
  crackTexture?: 'fill' | 'target';
  /** Layered compositing: tone shifts on the target's own pixels outside the region scaled by (their lightness / the face median)^toneRatio, so dark hair beside the face is barely lightened (blend.ts#compositeLayers); 0 or absent = additive. */
  toneRatio?: number;
  /** The same inside the region, where the texture fade lets the target's hair show; 0 or absent = additive. */
  toneRatioInside?: number;
  /** Layered compositing: inside the region, where the texture fade lets the target show, shift the tone only over the target's skin (its skin model), not its hair. */
  toneSkinInside?: boolean;
  /** Layered compositing: cap the outward extension's amplitude at this many levels (RGB distance); 0 or absent = no cap. */
  outwardLimit?: number;
  /** Layered compositing with none of the source's tone: the target's low-pass with the source's fine detail (high-pass) over it. */
  detailOnly?: boolean;
  /** With layered compositing: fade the tone in over this width inside the region (0 = whole tone up to the edge). */
  toneFeather?: number;
  /** Scale the rounding dither with the blend weight (round, not dither, where the blend barely touches the target). */
  ditherFade?: boolean;
  /**
   * Move the face outline (jaw, cheeks, chin) this share of `shape` towards
   * the source's too, warping the target around the face with it
   * (liquify.ts); 0 or absent = the outline stays the target's.
   */
  outline?: number;
  /** Mirror the source face when that matches the target's head turn better. */
  poseMatch: boolean;
  /** Leave pixels that are not skin-like (hair, hands, glasses) in either face as the target shows them. */
  occluders: boolean;
}

/** The default, chosen with the identity, landmark and seam figures of bench/local-engine.ts (docs/LOCAL-ENGINE.md). */
export const DEFAULT_STRATEGY: SwapStrategy = { mask: 'oval', blend: 'membrane+edge', feather: 0.06, colour: true, poseMatch: true, occluders: false, shape: 0.5 };

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
  /** With `faceCheck`: the layered blend lost the face, so this pair was blended the plain way. */
  fellBack?: boolean;
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
  /** Each triangle's zone for the hairline mask (hairline.ts). */
  zones?: ReturnType<typeof triangleZones>;
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

/** 1 on the region's edge, fading to 0 about `width` pixels inside (1 − a feather mask). */
function edgeFade(region: Uint8Array, roi: Roi, width: number): Float32Array {
  const inner = featherMask(region, roi.w, roi.h, width);
  for (let k = 0; k < inner.length; k++) inner[k] = 1 - inner[k]!;
  return inner;
}

function copyRoi(img: RgbImage, roi: Roi): Uint8Array {
  const out = new Uint8Array(roi.w * roi.h * 3);
  for (let y = 0; y < roi.h; y++) out.set(img.data.subarray(((roi.y + y) * img.width + roi.x) * 3, ((roi.y + y) * img.width + roi.x + roi.w) * 3), y * roi.w * 3);
  return out;
}

function pasteRoi(img: RgbImage, roi: Roi, pixels: Uint8Array): void {
  for (let y = 0; y < roi.h; y++) img.data.set(pixels.subarray(y * roi.w * 3, (y + 1) * roi.w * 3), ((roi.y + y) * img.width + roi.x) * 3);
}

/** Side of the crop the face check detects on (the face then spans about half of it). */
const FACE_CHECK_SIDE = 256;

/**
 * Whether a face is found in `img` with its centre inside `box` (Human on a
 * crop of the box grown by half its size each way, scaled to at most
 * FACE_CHECK_SIDE).
 */
async function faceStillThere(human: Human, img: RgbImage, box: [number, number, number, number]): Promise<boolean> {
  const gx = box[2] * 0.5, gy = box[3] * 0.5;
  const x0 = Math.max(0, Math.floor(box[0] - gx)), y0 = Math.max(0, Math.floor(box[1] - gy));
  const x1 = Math.min(img.width, Math.ceil(box[0] + box[2] + gx)), y1 = Math.min(img.height, Math.ceil(box[1] + box[3] + gy));
  if (x1 - x0 < 8 || y1 - y0 < 8) return true;
  let crop: RgbImage = { data: copyRoi(img, { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }), width: x1 - x0, height: y1 - y0 };
  const s = Math.min(1, FACE_CHECK_SIDE / Math.max(crop.width, crop.height));
  if (s < 1) crop = await resizeImage(crop, Math.max(1, Math.round(crop.width * s)), Math.max(1, Math.round(crop.height * s)), 'Bilinear');
  const sx = (x1 - x0) / crop.width, sy = (y1 - y0) / crop.height;
  const faces = await detectFaces(human, crop);
  return faces.some((f) => {
    const cx = x0 + (f.box[0] + f.box[2] / 2) * sx, cy = y0 + (f.box[1] + f.box[3] / 2) * sy;
    return cx >= box[0] && cx <= box[0] + box[2] && cy >= box[1] && cy <= box[1] + box[3];
  });
}

/** Pixels for tone statistics: pasted, and on plain skin (not eyes, brows, nostrils, mouth). */
function skinPixels(triangle: Int16Array, region: Uint8Array, regions: ReturnType<typeof triangleRegions>): Uint8Array {
  const out = new Uint8Array(region.length);
  for (let k = 0; k < region.length; k++) {
    const t = triangle[k]!;
    if (t >= 0 && region[k] && regions[t] !== 'feature') out[k] = 1;
  }
  return out;
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

  let source: RgbImage, original: RgbImage, sourceFaces: DetectedFace[], targetFaces: DetectedFace[];
  try {
    const src = await decodeAndDetect(ctx, req.source, timings, 'Source');
    const tgt = await decodeAndDetect(ctx, req.target, timings, 'Target');
    source = src.image; original = tgt.image;
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

  const out: RgbImage = { data: Uint8Array.from(original.data), width: original.width, height: original.height };
  const sample = samplerFor(req.interpolation);
  const pairs: SwapPair[] = [];
  timings.warp = 0; timings.colour = 0; timings.blend = 0;
  for (const [k, pair] of pairUp(req.sourceIndices, req.targetIndices).entries()) {
    const sf: DetectedFace = sourceFaces[pair.source]!;
    const tf: DetectedFace = targetFaces[pair.target]!;
    let p0 = performance.now();
    const mirrored = strategy.poseMatch && shouldMirror(sf.yaw, tf.yaw);
    const srcMesh = mirrored ? mirroredMesh(sf.mesh, ctx.topology, source.width) : sf.mesh;
    const keep = selectTriangles(ctx.topology, srcMesh, tf.mesh, strategy.mask === 'inner' ? 'inner' : 'oval');
    const radius = featherRadius(tf.box[2]);
    const outwardPx = strategy.outward ? Math.max(2, tf.box[2] * strategy.outward) : 0;
    const layered = outwardPx > 0 || Boolean(strategy.textureFeather) || Boolean(strategy.toneFeather) || Boolean(strategy.detailOnly);
    const dstMesh = strategy.shape ? morphTowardsSource(tf.mesh, srcMesh, ctx.topology, strategy.shape, strategy.outline ?? 0) : tf.mesh;
    const roi = roiOf(ctx.topology, strategy.outline ? dstMesh : tf.mesh, keep, original.width, original.height, 2 + Math.ceil(outwardPx));
    if (!roi) {
      pairs.push({ ...pair, mirrored, colour: 'skipped', pixels: 0 });
      continue;
    }
    // With the outline moved, this pair's target is the output so far with its surroundings moved along.
    let target = original;
    const moved = strategy.outline && strategy.shape ? liquifyOutline(out, tf.mesh, dstMesh, sample) : null;
    if (moved) { out.data.set(moved.data); target = moved; }
    const warped = warpTriangles(source, srcMesh, dstMesh, ctx.topology, keep, roi, sample, mirrored);
    const cracks = strategy.closeCracks ? closeCracks(warped, roi, Math.max(1.5, tf.box[2] * strategy.closeCracks)) : null;
    let region = warped.cover;
    if (strategy.mask === 'hairline') {
      ctx.zones ??= triangleZones(ctx.topology);
      region = hairlineRegion(warped, target, roi, ctx.zones, Math.max(2, tf.box[2] * 0.015)).region;
    }
    const featherWidth = strategy.feather ? Math.max(2, tf.box[2] * strategy.feather)
      : strategy.blend === 'poisson' ? Math.max(2, tf.box[2] * 0.02) : strategy.blend === 'membrane' || strategy.blend === 'membrane+edge' ? radius / 2 : radius;
    const alpha = featherMask(region, roi.w, roi.h, featherWidth, strategy.ramp);
    if (strategy.occluders) {
      ctx.regions ??= triangleRegions(ctx.topology);
      rejectOccluders(alpha, warped, target, roi, ctx.regions, Math.max(2, tf.box[2] * 0.02));
    }
    let p1 = performance.now();
    timings.warp! += p1 - p0; p0 = p1;
    let colour: ColourOutcome = 'skipped';
    if (strategy.colour === true) colour = transferColour(warped.rgb, alpha, target, roi);
    else if (strategy.colour) {
      const skin = skinPixels(warped.triangle, region, ctx.regions ??= triangleRegions(ctx.topology));
      const apply = new Float32Array(region.length);
      for (let k = 0; k < region.length; k++) apply[k] = region[k]!;
      colour = transferColour(warped.rgb, apply, target, roi, skin, strategy.colour === 'skin-mean');
    }
    p1 = performance.now();
    timings.colour! += p1 - p0; p0 = p1;
    if (strategy.blend === 'membrane' || strategy.blend === 'membrane+edge') membraneCorrect(warped.rgb, region, target, roi, Math.max(4, tf.box[2] * (strategy.membraneRadius || 0.25)));
    if (strategy.blend === 'poisson') poissonBlend(warped.rgb, region, target, roi);
    else if (strategy.blend === 'membrane+edge') poissonBlend(warped.rgb, region, target, roi, edgeFade(region, roi, strategy.edgeFade ? Math.max(2, tf.box[2] * strategy.edgeFade) : featherWidth * 1.5), strategy.edgeLimit ?? 0);
    const seed = (req.seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0;
    const random = seededRandom(seed);
    let fellBack = false;
    if (layered) {
      const before = strategy.faceCheck ? copyRoi(out, roi) : null;
      const alphaTexture = strategy.textureFeather
        ? featherMask(region, roi.w, roi.h, Math.max(2, tf.box[2] * strategy.textureFeather), strategy.ramp)
        : Float32Array.from(region);
      if (cracks && strategy.crackTexture === 'target') for (let k = 0; k < cracks.length; k++) if (cracks[k]) alphaTexture[k] = 0;
      const alphaTone = strategy.detailOnly ? new Float32Array(region.length) : strategy.toneFeather ? featherMask(region, roi.w, roi.h, Math.max(2, tf.box[2] * strategy.toneFeather), strategy.ramp) : null;
      // The target's skin map, made once when either option keeps a tone shift off its hair.
      const skin = (strategy.outwardSkinOnly && outwardPx > 0) || strategy.toneSkinInside
        ? targetSkinLikeness(warped, target, roi, ctx.zones ??= triangleZones(ctx.topology)) : null;
      let skinOutside: { skin: Float32Array; depth: Float32Array; radius: number } | null = null;
      if (strategy.outwardSkinOnly && outwardPx > 0) {
        if (skin) skinOutside = { skin, depth: featherMask(region, roi.w, roi.h, Math.max(2, tf.box[2] * strategy.outwardSkinOnly), strategy.ramp), radius: Math.max(2, tf.box[2] * 0.03) };
      }
      compositeLayers(out, warped.rgb, region, alphaTexture, alphaTone, roi, {
        toneRadius: Math.max(1.5, tf.box[2] * 0.012), outward: outwardPx,
        distance: outwardPx > 0 ? distanceOutside(region, roi.w, roi.h) : null,
        ramp: (x) => rampValue(x, strategy.ramp), ditherFade: Boolean(strategy.ditherFade),
        outwardLimit: strategy.outwardLimit ?? 0,
        smoothEdge: strategy.edgeSmooth ? {
          radius: Math.max(2, tf.box[2] * strategy.edgeSmooth),
          local: featherMask(region, roi.w, roi.h, Math.max(2, tf.box[2] * (strategy.edgeSmoothIn || 0.04)), strategy.ramp),
          chromaOnly: Boolean(strategy.edgeSmoothChroma),
          lightLimit: strategy.edgeLightLimit ?? 0,
        } : undefined,
        skinOutside: skinOutside ?? undefined,
        toneRatio: strategy.toneRatio ?? 0,
        toneRatioInside: strategy.toneRatioInside ?? 0,
        skinInside: strategy.toneSkinInside ? skin ?? undefined : undefined,
      }, random);
      if (before) {
        timings.blend! += performance.now() - p0; p0 = performance.now();
        if (!(await faceStillThere(ctx.human, out, tf.box))) {
          // The layered blend left no face a detector finds where the target's was: redo this pair with the plain blend.
          pasteRoi(out, roi, before);
          compositeInto(out, warped.rgb, alpha, roi, seededRandom(seed), Boolean(strategy.ditherFade));
          fellBack = true;
        }
        timings.faceCheck = (timings.faceCheck ?? 0) + Math.round((performance.now() - p0) * 10) / 10; p0 = performance.now();
      }
    } else if (strategy.twoBand) {
      const alphaHigh = featherMask(region, roi.w, roi.h, featherWidth * 2);
      compositeTwoBand(out, warped.rgb, region, alpha, alphaHigh, roi, Math.max(1.5, tf.box[2] * 0.012), random);
    } else compositeInto(out, warped.rgb, alpha, roi, random, Boolean(strategy.ditherFade));
    timings.blend! += performance.now() - p0;
    pairs.push({ ...pair, mirrored, colour, pixels: warped.pixels, ...(fellBack ? { fellBack } : {}) });
  }
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
