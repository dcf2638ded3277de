// Moving the face outline (src/engine/liquify.ts) on a synthetic image: the
// oval's 36 points on a circle of radius 40 around (100, 100), moved to a
// circle of radius 36. What lay on the old outline must land on the new one,
// nothing beyond the anchor ring (1.7 × the radius) may change, the input
// stays as it was, and an outline that does not move gives no new image.
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../src/engine/image-io.js';
import { liquifyOutline } from '../src/engine/liquify.js';
import { samplerFor } from '../src/engine/sampling.js';
import { FACE_OVAL } from '../src/engine/topology.js';

const W = 200, H = 200, CX = 100, CY = 100;

/** Each pixel's red channel is its distance from the centre (a radial ramp), green its column, blue its row. */
function image(): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3;
      data[p] = Math.min(255, Math.round(Math.hypot(x - CX, y - CY)));
      data[p + 1] = x; data[p + 2] = y;
    }
  }
  return { data, width: W, height: H };
}

function ovalMesh(radius: number): Float64Array {
  const mesh = new Float64Array(468 * 2).fill(CX);
  FACE_OVAL.forEach((o, k) => {
    const a = (2 * Math.PI * k) / FACE_OVAL.length;
    mesh[2 * o] = CX + radius * Math.cos(a);
    mesh[2 * o + 1] = CY + radius * Math.sin(a);
  });
  return mesh;
}

const red = (img: RgbImage, x: number, y: number) => img.data[(Math.round(y) * W + Math.round(x)) * 3]!;

describe('liquifyOutline', () => {
  it('brings what lay on the old outline to the new one and leaves everything beyond the anchors alone', () => {
    const original = image();
    const before = Uint8Array.from(original.data);
    const img = liquifyOutline(original, ovalMesh(40), ovalMesh(36), samplerFor('Bilinear'))!;
    expect(img).not.toBeNull();
    // The input is left as it was.
    expect(Buffer.from(original.data).equals(Buffer.from(before))).toBe(true);
    // On the new outline the image now shows what was 40 px from the centre (was 36 there).
    for (const a of [0, Math.PI / 2, Math.PI, 1.5 * Math.PI]) {
      expect(red(img, CX + 36 * Math.cos(a), CY + 36 * Math.sin(a))).toBeGreaterThanOrEqual(39);
    }
    // Far inside and beyond 1.7 × 40 = 68 px (the anchor ring) nothing moved.
    for (const [x, y] of [[CX + 80, CY], [CX, CY - 80], [5, 5], [195, 195]] as const) {
      const p = (y * W + x) * 3;
      expect([img.data[p], img.data[p + 1], img.data[p + 2]]).toEqual([before[p], before[p + 1], before[p + 2]]);
    }
    // Between the outline and the anchors the move fades: at 54 px it is under the full 4 px.
    const mid = red(img, CX + 54, CY);
    expect(mid).toBeGreaterThan(54);
    expect(mid).toBeLessThan(58);
  });

  it('changes nothing when the outline stays', () => {
    const img = image();
    const before = Uint8Array.from(img.data);
    expect(liquifyOutline(img, ovalMesh(40), ovalMesh(40), samplerFor('Bilinear'))).toBeNull();
    expect(Buffer.from(img.data).equals(Buffer.from(before))).toBe(true);
  });
});
