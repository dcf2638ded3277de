// The local engine bench's pose and seam figures (bench/support/swap-quality.ts)
// on synthetic images and meshes, so a change to how they measure shows here:
// a shifted mesh scores its shift in inter-ocular units; a hard tone step at a
// pasted square scores far higher than the same step faded out to its edge,
// and an untouched image scores nothing.
import { describe, expect, it } from 'vitest';
import { interOcular, landmarkError, seamVisibility, type Rgb } from '../bench/support/swap-quality.js';
import { seededRandom } from '../src/util/seeded-random.js';

function mesh(): Float64Array {
  const m = new Float64Array(468 * 2);
  const random = seededRandom(3);
  for (let i = 0; i < m.length; i++) m[i] = 100 + random() * 200;
  // Eye corners 40 px apart horizontally: inter-ocular distance 40.
  m[2 * 33] = 100; m[2 * 133] = 100; m[2 * 263] = 140; m[2 * 362] = 140;
  m[2 * 33 + 1] = m[2 * 133 + 1] = m[2 * 263 + 1] = m[2 * 362 + 1] = 150;
  return m;
}

describe('landmark error', () => {
  it('is 0 for the same mesh and the shift in inter-ocular units for a shifted one', () => {
    const m = mesh();
    expect(interOcular(m)).toBe(40);
    expect(landmarkError(m, m)).toBe(0);
    const shifted = m.map((v, i) => (i % 2 === 0 ? v + 4 : v));
    expect(landmarkError(shifted, m)).toBeCloseTo(0.1, 10);
  });
});

const W = 200, H = 200;
const box: [number, number, number, number] = [60, 60, 80, 80];

function texture(): Rgb {
  const random = seededRandom(11);
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < data.length; i++) data[i] = 100 + Math.floor(random() * 20);
  return { data, width: W, height: H };
}

/** The target with `offset(x, y)` added inside the box (a stand-in for a pasted face). */
function pasted(target: Rgb, offset: (x: number, y: number) => number): Rgb {
  const data = Uint8Array.from(target.data);
  for (let y = box[1]; y < box[1] + box[3]; y++) for (let x = box[0]; x < box[0] + box[2]; x++) {
    for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = Math.min(255, target.data[(y * W + x) * 3 + c]! + Math.round(offset(x, y)));
  }
  return { data, width: W, height: H };
}

describe('seam visibility', () => {
  it('scores a hard step far above the same step faded to the edge, and nothing for an untouched image', () => {
    const target = texture();
    const hard = seamVisibility(pasted(target, () => 30), target, box)!;
    const fade = (x: number, y: number) => {
      const d = Math.min(x - box[0], box[0] + box[2] - 1 - x, y - box[1], box[1] + box[3] - 1 - y);
      return 1 + 29 * Math.min(1, d / 30); // 1 at the edge (so every pixel changes), 30 inside
    };
    const soft = seamVisibility(pasted(target, fade), target, box)!;
    expect(hard.changed).toBe(box[2] * box[3]);
    expect(hard.seam).toBeGreaterThan(1);
    expect(soft.seam).toBeLessThan(hard.seam / 10);
    expect(hard.ratio).toBeGreaterThan(soft.ratio);
    expect(seamVisibility(target, target, box)).toBeNull();
  });

  it('with a threshold, sits on the visible edge: a faint shift outside a hard step does not hide the step', () => {
    const target = texture();
    // A hard 30-level step at an inner square, and a 1-level shift over the rest of the box around it.
    const inner = (x: number, y: number) => x >= box[0] + 20 && x < box[0] + 60 && y >= box[1] + 20 && y < box[1] + 60;
    const out = pasted(target, (x, y) => (inner(x, y) ? 30 : 1));
    const any = seamVisibility(out, target, box)!;
    const visible = seamVisibility(out, target, box, undefined, 8)!;
    expect(any.changed).toBe(box[2] * box[3]); // the band sits on the box's edge, where only the 1-level shift is
    expect(visible.changed).toBe(40 * 40);
    expect(visible.seam).toBeGreaterThan(10 * any.seam);
  });
});
