// Putting the warped (and recoloured) face into the target.
// - feather: alpha blend with the feathered mask.
// - membrane: a Poisson-style seamless blend. The colour mismatch along the
//   mask's edge is spread smoothly over the inside (a normalised convolution,
//   the cheap approximation of the membrane that solving the Poisson equation
//   gives, after Farbman et al.'s convolution pyramids), added to the face so
//   its edge meets the target exactly, then alpha blended with a narrow
//   feather.
// Rounding to 8 bits uses a seeded dither (error-free on average, no banding
// on smooth skin), so the seed is the only randomness and reruns reproduce.
import { blurPlane } from './blur.js';
import type { RgbImage } from './image-io.js';
import type { Roi } from './warp.js';

export type BlendMode = 'feather' | 'membrane';

/** 1 on the pixels of `mask` that lie on its edge (within about 1.5 px of the outside), else 0. */
function edgeBand(mask: Uint8Array, w: number, h: number): Float32Array {
  const n = w * h;
  const plane = new Float32Array(n);
  for (let i = 0; i < n; i++) plane[i] = mask[i]!;
  const near = blurPlane(plane, w, h, 1.5);
  const band = new Float32Array(n);
  for (let i = 0; i < n; i++) band[i] = mask[i] && near[i]! < 0.999 ? 1 : 0;
  return band;
}

/** Shift `warped` so its edge matches the target (the membrane correction), in place. */
export function membraneCorrect(warped: Float32Array, cover: Uint8Array, target: RgbImage, roi: Roi, radius: number): void {
  const n = roi.w * roi.h;
  const band = edgeBand(cover, roi.w, roi.h);
  const den = blurPlane(band, roi.w, roi.h, radius);
  for (let c = 0; c < 3; c++) {
    const diff = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      if (!band[k]) continue;
      const x = roi.x + (k % roi.w), y = roi.y + Math.floor(k / roi.w);
      diff[k] = target.data[(y * target.width + x) * 3 + c]! - warped[3 * k + c]!;
    }
    const num = blurPlane(diff, roi.w, roi.h, radius);
    for (let k = 0; k < n; k++) {
      if (!cover[k] || den[k]! < 1e-4) continue;
      const v = warped[3 * k + c]! + num[k]! / den[k]!;
      warped[3 * k + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/** Alpha-blend `warped` into `out` (the target's pixels, modified in place) with seeded dithering. */
export function compositeInto(out: RgbImage, warped: Float32Array, alpha: Float32Array, roi: Roi, random: () => number, ditherFade = false): void {
  for (let y = 0; y < roi.h; y++) {
    for (let x = 0; x < roi.w; x++) {
      const k = y * roi.w + x;
      const a = alpha[k]!;
      if (a <= 0) continue;
      const p = ((roi.y + y) * out.width + roi.x + x) * 3;
      const d = ditherFade ? 0.5 + (random() - 0.5) * Math.min(1, a) : random();
      for (let c = 0; c < 3; c++) {
        const v = warped[3 * k + c]! * a + out.data[p + c]! * (1 - a);
        const q = Math.floor(v + d);
        out.data[p + c] = q < 0 ? 0 : q > 255 ? 255 : q;
      }
    }
  }
}

/** A blur of `warped`'s channel `c` that only averages covered pixels (uncovered ones hold no colour). */
function coveredBlur(rgb: Float32Array, c: number, weight: Float32Array, wBlur: Float32Array, w: number, h: number, radius: number): Float32Array {
  const plane = new Float32Array(w * h);
  for (let k = 0; k < w * h; k++) plane[k] = rgb[3 * k + c]! * weight[k]!;
  const num = blurPlane(plane, w, h, radius);
  for (let k = 0; k < w * h; k++) num[k] = wBlur[k]! > 1e-6 ? num[k]! / wBlur[k]! : 0;
  return num;
}

/**
 * Two-band compositing (Burt and Adelson's multiresolution spline, two
 * levels): the smooth part of the face (tone, shading, the shapes of the
 * features) is blended with `alphaLow`; its fine texture (pores, strands,
 * grain) with `alphaHigh`, which starts further inside. At the mask's edge
 * the output then keeps the target's own texture and only a smooth tone
 * difference remains, which the membrane correction has already made small,
 * so no texture jump draws the mask's outline.
 */
export function compositeTwoBand(
  out: RgbImage, warped: Float32Array, region: Uint8Array, alphaLow: Float32Array, alphaHigh: Float32Array,
  roi: Roi, radius: number, random: () => number,
): void {
  const w = roi.w, h = roi.h, n = w * h;
  const ones = new Float32Array(n);
  const tgt = new Float32Array(n * 3);
  for (let k = 0; k < n; k++) {
    ones[k] = region[k]!;
    const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
    tgt[3 * k] = out.data[p]!; tgt[3 * k + 1] = out.data[p + 1]!; tgt[3 * k + 2] = out.data[p + 2]!;
  }
  const wBlur = blurPlane(ones, w, h, radius);
  const all = new Float32Array(n).fill(1);
  const allBlur = blurPlane(all, w, h, radius);
  const lowW: Float32Array[] = [], lowT: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    lowW.push(coveredBlur(warped, c, ones, wBlur, w, h, radius));
    lowT.push(coveredBlur(tgt, c, all, allBlur, w, h, radius));
  }
  for (let k = 0; k < n; k++) {
    const al = alphaLow[k]!, ah = alphaHigh[k]!;
    if (al <= 0 && ah <= 0) continue;
    const d = random();
    const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
    for (let c = 0; c < 3; c++) {
      const t = tgt[3 * k + c]!, lw = lowW[c]![k]!, lt = lowT[c]![k]!;
      const v = t + al * (lw - lt) + ah * ((warped[3 * k + c]! - lw) - (t - lt));
      const q = Math.floor(v + d);
      out.data[p + c] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
}

/**
 * Layered compositing for a seamless edge without giving up the face: the
 * difference D = warped − target inside `region` is split into its tone
 * (a blur of D over the region, radius `toneRadius`) and its texture (the
 * rest). Inside the region the tone is taken with `alphaTone` (whole when
 * null; else a short ramp from the edge) and the texture with `alphaTexture`
 * (a gentle, wider ramp from the region's edge inwards); outside the
 * region, over `outward` pixels, only a smooth extension of the edge's tone
 * difference is added, with weight `ramp(1 − distance / outward)`. Nothing
 * of the source's pixels outside its face is used: outside the region the
 * output is the target plus a smooth tone shift. `ditherFade` scales the
 * rounding dither with the weight, so where the blend barely touches the
 * target it rounds instead of sprinkling ±1 noise. `outwardLimit` (levels,
 * RGB distance) caps the extension's amplitude.
 */
export function compositeLayers(
  out: RgbImage, warped: Float32Array, region: Uint8Array, alphaTexture: Float32Array, alphaTone: Float32Array | null, roi: Roi,
  opts: {
    toneRadius: number; outward: number; distance: Float32Array | null; ramp: (t: number) => number; ditherFade: boolean; outwardLimit?: number;
    /** Smooth the edge's tone along the edge: radius (px) of the smoothing, and the inward weight (0 on the edge, 1 inside) of the local tone. */
    smoothEdge?: { radius: number; local: Float32Array; chromaOnly?: boolean; lightLimit?: number };
    /**
     * Keep the outward extension off what is not skin in the target (1 = skin-like, 0 = hair, background),
     * and where the region borders that, fade the face's tone in over `depth` (0 on the edge, 1 inside) instead.
     */
    skinOutside?: { skin: Float32Array; depth: Float32Array; radius: number };
    /**
     * Apply tone shifts to the target's own pixels as a share of their
     * lightness (exponent; 0 = additive): a pixel darker than the face's
     * median (hair next to the face, a strand over it) gets
     * (its lightness / the face's)^toneRatio of it, as shading would.
     * toneRatio is the exponent outside the region, `toneRatioInside` inside
     * it (where the target's texture shows through the texture fade).
     */
    toneRatio?: number;
    toneRatioInside?: number;
    /** Inside the region, where the target's texture shows, take the tone only over its skin (1 = skin-like, 0 = hair). */
    skinInside?: Float32Array;
  },
  random: () => number,
): void {
  const w = roi.w, h = roi.h, n = w * h;
  const reg = new Float32Array(n);
  for (let k = 0; k < n; k++) reg[k] = region[k]!;
  const regBlur = blurPlane(reg, w, h, opts.toneRadius);
  const edge = edgeBand(region, w, h);
  const extRadius = Math.max(2, opts.outward / 2);
  const edgeBlur = opts.outward > 0 ? blurPlane(edge, w, h, extRadius) : null;
  const diff: Float32Array[] = [], low: Float32Array[] = [], ext: Array<Float32Array | null> = [];
  let smoothDen: Float32Array | undefined;
  const smooth: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    const d = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      if (!region[k]) continue;
      const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
      d[k] = warped[3 * k + c]! - out.data[p + c]!;
    }
    const l = blurPlane(d, w, h, opts.toneRadius);
    for (let k = 0; k < n; k++) l[k] = regBlur[k]! > 1e-6 ? l[k]! / regBlur[k]! : 0;
    diff.push(d); low.push(l);
    if (opts.smoothEdge?.chromaOnly) {
      // Both: the local extension (for the lightness) and the smoothed one (for the chroma); combined below.
      const e = new Float32Array(n);
      for (let k = 0; k < n; k++) e[k] = edge[k] ? l[k]! : 0;
      const eb = blurPlane(e, w, h, opts.smoothEdge.radius);
      const den = smoothDen ??= blurPlane(edge, w, h, opts.smoothEdge.radius);
      for (let k = 0; k < n; k++) eb[k] = den[k]! > 1e-6 ? eb[k]! / den[k]! : 0;
      smooth.push(eb);
      const el = blurPlane(e, w, h, extRadius);
      for (let k = 0; k < n; k++) el[k] = edgeBlur![k]! > 1e-6 ? el[k]! / edgeBlur![k]! : 0;
      ext.push(el);
    } else if (opts.smoothEdge) {
      // The edge's tone smoothed along the edge over a wide radius: what the outward ring carries, and what the face's tone fades to at its edge.
      const e = new Float32Array(n);
      for (let k = 0; k < n; k++) e[k] = edge[k] ? l[k]! : 0;
      const eb = blurPlane(e, w, h, opts.smoothEdge.radius);
      const den = smoothDen ??= blurPlane(edge, w, h, opts.smoothEdge.radius);
      for (let k = 0; k < n; k++) eb[k] = den[k]! > 1e-6 ? eb[k]! / den[k]! : 0;
      const local = opts.smoothEdge.local;
      for (let k = 0; k < n; k++) if (region[k]) l[k] = eb[k]! + local[k]! * (l[k]! - eb[k]!);
      ext.push(eb);
    } else if (edgeBlur) {
      const e = new Float32Array(n);
      for (let k = 0; k < n; k++) e[k] = edge[k] ? l[k]! : 0;
      const eb = blurPlane(e, w, h, extRadius);
      for (let k = 0; k < n; k++) eb[k] = edgeBlur[k]! > 1e-6 ? eb[k]! / edgeBlur[k]! : 0;
      ext.push(eb);
    } else ext.push(null);
  }
  if (smooth.length === 3) {
    // Chroma only: near the edge and outside, the colour (difference minus its grey part) is the smoothed one, the lightness stays local.
    const local = opts.smoothEdge!.local;
    const cap = opts.smoothEdge!.lightLimit || Infinity;
    const clamp = (v: number) => (v > cap ? cap : v < -cap ? -cap : v);
    for (let k = 0; k < n; k++) {
      const sY = (smooth[0]![k]! + smooth[1]![k]! + smooth[2]![k]!) / 3;
      const eY = clamp((ext[0]![k]! + ext[1]![k]! + ext[2]![k]!) / 3);
      const lY = (low[0]![k]! + low[1]![k]! + low[2]![k]!) / 3;
      // With a light limit, the lightness on the edge is capped and its excess fades in over the same band as the colour.
      const lYe = clamp(lY);
      for (let c = 0; c < 3; c++) {
        const sc = smooth[c]![k]! - sY;
        ext[c]![k] = eY + sc;
        if (region[k]) low[c]![k] = lYe + sc + local[k]! * (low[c]![k]! - lYe - sc);
      }
    }
  }
  const limit = opts.outwardLimit ?? 0;
  if (limit > 0 && ext[0]) {
    // Cap the extension's amplitude (RGB distance), keeping its hue.
    const [e0, e1, e2] = ext as Float32Array[];
    for (let k = 0; k < n; k++) {
      const norm = Math.sqrt(e0![k]! ** 2 + e1![k]! ** 2 + e2![k]! ** 2);
      if (norm <= limit) continue;
      const f = limit / norm;
      e0![k] = e0![k]! * f; e1![k] = e1![k]! * f; e2![k] = e2![k]! * f;
    }
  }
  let hairNear: Float32Array | null = null, skinOut: Float32Array | null = null;
  if (opts.skinOutside && opts.distance) {
    // Share of the region's immediate outside (3 px) that is not skin, spread inwards over `radius`.
    const so = opts.skinOutside;
    const near = new Float32Array(n), notSkin = new Float32Array(n);
    for (let k = 0; k < n; k++) if (!region[k] && opts.distance[k]! <= 3) { near[k] = 1; notSkin[k] = 1 - so.skin[k]!; }
    const nb = blurPlane(near, w, h, so.radius), hb = blurPlane(notSkin, w, h, so.radius);
    hairNear = new Float32Array(n);
    for (let k = 0; k < n; k++) hairNear[k] = nb[k]! > 1e-4 ? hb[k]! / nb[k]! : 0;
    skinOut = blurPlane(so.skin, w, h, 2);
  }
  let ratio: Float32Array | null = null;
  const ratioOutside = opts.toneRatio ?? 0, ratioInside = opts.toneRatioInside ?? 0;
  if (ratioOutside || ratioInside) {
    // The target's lightness against its face's (the median over the region, mostly skin): hair is far below it.
    const yT = new Float32Array(n);
    const hist = new Uint32Array(256);
    let count = 0;
    for (let k = 0; k < n; k++) {
      const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
      yT[k] = (out.data[p]! + out.data[p + 1]! + out.data[p + 2]!) / 3;
      if (region[k]) { hist[Math.round(yT[k]!)]!++; count++; }
    }
    let ref = 0;
    for (let acc = 0; ref < 255 && (acc += hist[ref]!) < count / 2;) ref++;
    ratio = new Float32Array(n);
    for (let k = 0; k < n; k++) ratio[k] = ref > 1 ? Math.min(1, yT[k]! / ref) : 1;
  }
  for (let k = 0; k < n; k++) {
    let a: number, inside: boolean;
    if (region[k]) {
      a = alphaTone ? alphaTone[k]! : 1;
      if (hairNear) a *= 1 - hairNear[k]! * (1 - opts.skinOutside!.depth[k]!);
      inside = true;
    } else {
      if (!opts.distance || opts.outward <= 0) continue;
      const dist = opts.distance[k]!;
      if (dist >= opts.outward) continue;
      a = opts.ramp(1 - dist / opts.outward);
      if (skinOut) a *= skinOut[k]!;
      if (a <= 0) continue;
      inside = false;
    }
    const p = ((roi.y + Math.floor(k / w)) * out.width + roi.x + (k % w)) * 3;
    const r = random();
    const at = inside ? alphaTexture[k]! : 0;
    // Where the target's own texture shows (1 − at), its tone shift follows its lightness.
    if (inside && opts.skinInside) a *= 1 - (1 - opts.skinInside[k]!) * (1 - at);
    if (ratio) a *= inside ? 1 - (1 - ratio[k]! ** ratioInside) * (1 - at) : ratio[k]! ** ratioOutside;
    const amp = opts.ditherFade ? Math.min(1, inside ? Math.max(at, a) : a) : 1;
    const d = 0.5 + (r - 0.5) * amp;
    for (let c = 0; c < 3; c++) {
      const t = out.data[p + c]!;
      const v = inside ? t + a * low[c]![k]! + at * (diff[c]![k]! - low[c]![k]!) : t + a * ext[c]![k]!;
      const q = Math.floor(v + d);
      out.data[p + c] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
}
