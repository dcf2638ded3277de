// The layered compositing's tone options (src/engine/blend.ts#compositeLayers)
// on a synthetic face: a region of skin (lightness 160) whose warped face is
// 30 levels lighter, bordered outside by dark hair (rows 0-9, lightness 40)
// and light skin (rows 10-19, lightness 200). Additive tone lightens hair and
// skin alike outside the region; with toneRatio the hair gets
// (40 / 160)^toneRatio of it and the lighter skin all of it; skinInside keeps
// the tone off the pixels it marks as not skin where the target's texture shows.
import { describe, expect, it } from 'vitest';
import { compositeLayers } from '../src/engine/blend.js';
import type { RgbImage } from '../src/engine/image-io.js';
import { distanceOutside } from '../src/engine/mask.js';

const W = 40, H = 20, EDGE = 20, OUTWARD = 8;
const roi = { x: 0, y: 0, w: W, h: H };

/** `strand`: one target pixel inside the region is dark (a strand of hair over the face). */
function scene(strand = false) {
  const target: RgbImage = { data: new Uint8Array(W * H * 3), width: W, height: H };
  const region = new Uint8Array(W * H);
  const warped = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const k = y * W + x;
      const inside = x < EDGE;
      region[k] = inside ? 1 : 0;
      const t = inside ? 160 : y < 10 ? 40 : 200;
      target.data.fill(t, 3 * k, 3 * k + 3);
      if (inside) warped.fill(t + 30, 3 * k, 3 * k + 3);
    }
  }
  if (strand) target.data.fill(40, 3 * (5 * W + 5), 3 * (5 * W + 5) + 3);
  return { target, region, warped };
}

function run(opts: { toneRatio?: number; toneRatioInside?: number; skinInside?: Float32Array; textureAlpha?: number; strand?: boolean }) {
  const { target, region, warped } = scene(opts.strand);
  const alphaTexture = new Float32Array(W * H);
  for (let k = 0; k < W * H; k++) alphaTexture[k] = region[k] ? (opts.textureAlpha ?? 1) : 0;
  compositeLayers(target, warped, region, alphaTexture, null, roi, {
    toneRadius: 1.5, outward: OUTWARD, distance: distanceOutside(region, W, H), ramp: (t) => t, ditherFade: false,
    toneRatio: opts.toneRatio, toneRatioInside: opts.toneRatioInside, skinInside: opts.skinInside,
  }, () => 0.5);
  return (x: number, y: number) => target.data[(y * W + x) * 3]!;
}

describe('layered compositing: tone on the target\'s own pixels', () => {
  it('adds the same shift to hair and skin outside the region when additive', () => {
    const at = run({});
    const hair = at(EDGE + 1, 5) - 40, skin = at(EDGE + 1, 15) - 200;
    expect(hair).toBeGreaterThan(15);
    expect(Math.abs(hair - skin)).toBeLessThanOrEqual(1);
    expect(at(EDGE + OUTWARD + 2, 5)).toBe(40);
  });

  it('scales the shift outside by (lightness / the face median)^toneRatio: dark hair barely moves, lighter skin fully', () => {
    const additive = run({});
    const ratio = run({ toneRatio: 2 });
    const full = additive(EDGE + 1, 5) - 40;
    expect(ratio(EDGE + 1, 5) - 40).toBeLessThanOrEqual(Math.ceil(full / 16) + 1);
    expect(ratio(EDGE + 1, 15)).toBe(additive(EDGE + 1, 15));
    // Inside, where the source's texture is taken whole, the face is the warped one either way.
    expect(ratio(5, 5)).toBe(190);
  });

  it('scales the tone on a dark target pixel inside only with toneRatioInside, where its texture shows', () => {
    // Half the target's texture shows (textureAlpha 0.5); the strand at (5, 5) is 40 against the face's 160.
    const plain = run({ textureAlpha: 0.5, toneRatio: 2, strand: true });
    const inside = run({ textureAlpha: 0.5, toneRatio: 2, toneRatioInside: 2, strand: true });
    expect(plain(5, 5) - inside(5, 5)).toBeGreaterThan(8);
    // Pixels at the face's median lightness take the whole tone either way.
    expect(inside(15, 15)).toBe(plain(15, 15));
  });

  it('takes no tone where skinInside marks the target as not skin and its texture shows', () => {
    const notSkin = new Float32Array(W * H).fill(1);
    notSkin[5 * W + 5] = 0;
    const at = run({ textureAlpha: 0, skinInside: notSkin });
    expect(at(5, 5)).toBe(160);
    expect(at(6, 5)).toBe(190);
  });
});
