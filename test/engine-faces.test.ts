// The local engine through its thread pool: detection counts and the six
// numberings on the sample photos, index selection, typed failures, output
// options and bit-for-bit reruns.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FACE_ORDERS, orderFaces, type FaceOrder } from '../src/engine/detect.js';
import { createSwapPool, type SwapPool } from '../src/engine/pool.js';
import { pairUp, shouldMirror, type SwapRequest } from '../src/engine/swap.js';
import { faceless, sample, SAMPLE_COUNT, SAMPLE_FACE_COUNTS, sampleAt } from './support/engine-samples.js';

let pool: SwapPool;
let source: Buffer;
let target: Buffer;

beforeAll(async () => {
  pool = createSwapPool({ size: 2 });
  [source, target] = await Promise.all([sampleAt(1, 768), sampleAt(3, 768), pool.ready()]);
});

afterAll(async () => {
  await pool?.close();
});

const base = (over: Partial<SwapRequest> = {}): SwapRequest => ({
  source, target, sourceIndices: [0], targetIndices: [0], order: 'large-small',
  interpolation: 'Bilinear', format: 'png', quality: 90, seed: 7, ...over,
});

type Box = [number, number, number, number];
const area = (b: Box) => b[2] * b[3];
const cx = (b: Box) => b[0] + b[2] / 2;
const cy = (b: Box) => b[1] + b[3] / 2;

const INVARIANT: Record<FaceOrder, (a: Box, b: Box) => boolean> = {
  'large-small': (a, b) => area(a) >= area(b),
  'small-large': (a, b) => area(a) <= area(b),
  'top-bottom': (a, b) => cy(a) <= cy(b),
  'bottom-top': (a, b) => cy(a) >= cy(b),
  'left-right': (a, b) => cx(a) <= cx(b),
  'right-left': (a, b) => cx(a) >= cx(b),
};

function assertOrdered(boxes: Box[], order: FaceOrder) {
  for (let i = 1; i < boxes.length; i++) expect(INVARIANT[order](boxes[i - 1]!, boxes[i]!), `${order} at ${i}`).toBe(true);
}

describe('detection', () => {
  it('finds the measured number of faces in each sample photo, numbered large to small', async () => {
    const found = await Promise.all(Array.from({ length: SAMPLE_COUNT }, (_, i) => pool.detect(sample(i + 1), 'large-small')));
    expect(found.map((d) => d.faces.length)).toEqual([...SAMPLE_FACE_COUNTS]);
    for (const d of found) {
      assertOrdered(d.faces.map((f) => f.box), 'large-small');
      for (const f of d.faces) {
        expect(f.box[0]).toBeGreaterThanOrEqual(0);
        expect(f.box[0] + f.box[2]).toBeLessThanOrEqual(d.width + 1);
        expect(f.box[2]).toBeGreaterThan(100); // the sample faces are 260-400 px wide
      }
    }
  });

  it('numbers the same faces in each of the six detection_face_order values', async () => {
    const byOrder = await Promise.all(FACE_ORDERS.map((o) => pool.detect(sample(5), o)));
    const key = (b: Box) => b.map((v) => Math.round(v)).join(',');
    const reference = byOrder[0]!.faces.map((f) => key(f.box)).sort();
    byOrder.forEach((d, i) => {
      expect(d.faces).toHaveLength(5);
      assertOrdered(d.faces.map((f) => f.box), FACE_ORDERS[i]!);
      expect(d.faces.map((f) => key(f.box)).sort()).toEqual(reference);
    });
    // The numberings really differ on this photo (five faces at different sizes and places).
    expect(new Set(byOrder.map((d) => d.faces.map((f) => key(f.box)).join('|'))).size).toBeGreaterThanOrEqual(5);
  });

  it('orders ties by position so the numbering is total', () => {
    const faces = [{ box: [50, 0, 10, 10] as Box }, { box: [0, 0, 10, 10] as Box }];
    expect(orderFaces(faces, 'large-small').map((f) => f.box[0])).toEqual([0, 50]);
  });
});

describe('pairs and pose', () => {
  it('zips the index lists and reuses the last source face when sources run out', () => {
    expect(pairUp([2], [0, 1, 2])).toEqual([{ source: 2, target: 0 }, { source: 2, target: 1 }, { source: 2, target: 2 }]);
    expect(pairUp([0, 1], [1, 0])).toEqual([{ source: 0, target: 1 }, { source: 1, target: 0 }]);
    expect(pairUp([0, 1, 2], [1])).toEqual([{ source: 0, target: 1 }]);
  });

  it('mirrors the source only when the mirrored head turn is clearly closer', () => {
    expect(shouldMirror(0.4, -0.4)).toBe(true);
    expect(shouldMirror(0.4, 0.3)).toBe(false);
    expect(shouldMirror(0.05, -0.05)).toBe(false);
  });
});

async function raw(bytes: Buffer) {
  return sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
}

function changedIn(a: Buffer, b: Buffer, width: number, box: Box): number {
  let changed = 0;
  const [x0, y0, w, h] = box.map(Math.round) as Box;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) {
    const p = (y * width + x) * 3;
    if (a[p] !== b[p] || a[p + 1] !== b[p + 1] || a[p + 2] !== b[p + 2]) changed++;
  }
  return changed / (w * h);
}

describe('swapping', () => {
  it('swaps only the selected target face', async () => {
    const res = await pool.swap(base({ targetIndices: [1] }));
    if (!res.ok) throw new Error(res.message);
    expect(res.faces).toEqual({ source: 3, target: 3 });
    expect(res.pairs).toMatchObject([{ source: 0, target: 1 }]);
    const [out, orig] = await Promise.all([raw(res.bytes), raw(target)]);
    const face1 = changedIn(out.data, orig.data, orig.info.width, res.targetBoxes[1]!);
    const face0 = changedIn(out.data, orig.data, orig.info.width, res.targetBoxes[0]!);
    expect(face1).toBeGreaterThan(0.15);
    expect(face0).toBe(0);
  });

  it('swaps several pairs at once', async () => {
    const res = await pool.swap(base({ sourceIndices: [0, 1], targetIndices: [0, 1, 2] }));
    if (!res.ok) throw new Error(res.message);
    expect(res.pairs.map((p) => [p.source, p.target])).toEqual([[0, 0], [1, 1], [1, 2]]);
    const [out, orig] = await Promise.all([raw(res.bytes), raw(target)]);
    const changed = res.targetBoxes.map((box) => changedIn(out.data, orig.data, orig.info.width, box));
    for (const c of changed) expect(c).toBeGreaterThan(0.15);
  });

  it('fails FACE_INDEX_OUT_OF_RANGE for an index beyond the faces found', async () => {
    const res = await pool.swap(base({ targetIndices: [0, 3] }));
    expect(res).toMatchObject({ ok: false, code: 'FACE_INDEX_OUT_OF_RANGE' });
    expect(!res.ok && res.message).toContain('input_faces_index 3');
    const src = await pool.swap(base({ sourceIndices: [9] }));
    expect(src).toMatchObject({ ok: false, code: 'FACE_INDEX_OUT_OF_RANGE' });
  });

  it('fails NO_FACE_DETECTED for a picture without a face', async () => {
    const blank = await faceless();
    expect(await pool.swap(base({ target: blank }))).toMatchObject({ ok: false, code: 'NO_FACE_DETECTED', message: expect.stringContaining('target') });
    expect(await pool.swap(base({ source: blank }))).toMatchObject({ ok: false, code: 'NO_FACE_DETECTED', message: expect.stringContaining('source') });
  });

  it('fails INVALID_INPUT for bytes that are not an image', async () => {
    expect(await pool.swap(base({ target: Buffer.from('not an image') }))).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
  });

  it('honours image_format, image_quality and interpolation', async () => {
    const [jpegHi, jpegLo, webp, nearest, lanczos] = await Promise.all([
      pool.swap(base({ format: 'jpeg', quality: 95 })),
      pool.swap(base({ format: 'jpeg', quality: 30 })),
      pool.swap(base({ format: 'webp', quality: 80 })),
      pool.swap(base({ interpolation: 'Nearest' })),
      pool.swap(base({ interpolation: 'Lanczos' })),
    ]);
    if (!jpegHi.ok || !jpegLo.ok || !webp.ok || !nearest.ok || !lanczos.ok) throw new Error('a swap failed');
    expect(jpegHi.mimeType).toBe('image/jpeg');
    expect(jpegHi.bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(jpegLo.bytes.length).toBeLessThan(jpegHi.bytes.length * 0.6);
    expect(webp.mimeType).toBe('image/webp');
    expect(webp.bytes.subarray(8, 12).toString('latin1')).toBe('WEBP');
    expect(nearest.mimeType).toBe('image/png');
    expect(nearest.bytes.equals(lanczos.bytes)).toBe(false);
  });

  it('reproduces the output bit for bit for the same seed, on any thread', async () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const req = base({ format: 'jpeg', quality: 92, seed: 1234, targetIndices: [0, 1] });
    const runs = await Promise.all([pool.swap(req), pool.swap(req), pool.swap(req)]);
    const hashes = runs.map((r) => (r.ok ? sha(r.bytes) : r.message));
    expect(new Set(hashes).size).toBe(1);
    const other = await pool.swap({ ...req, seed: 1235 });
    expect(other.ok && sha(other.bytes)).not.toBe(hashes[0]);
  });
});
