// Makes docs/images/seam-strategies-2.jpg (seam-strategies.jpg was the first set, see docs/LOCAL-ENGINE.md): the same swaps under several blend
// strategies side by side (crops of the output; with DIFF=1 also
// 128 + 4 × (output − target) next to each), to look at what the seam figures
// of bench:local-engine do and do not see.
// Usage: npx tsx scripts/make-seam-comparison.ts
//   env STRATS='{"name":{...SwapStrategy fields over the hairline+membrane base}}', PAIRS='[[sp,sf,tp,tf],...]',
//   TILE (px), ZOOM (crop side / face box side), DIFF=1, OUT (file)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { createEngine } from '../src/engine/engine.js';
import type { SwapStrategy } from '../src/engine/swap.js';
const require = createRequire(import.meta.url);
const sampleDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const photo = (n: number) => sharp(readFileSync(join(sampleDir, `sample${n}.jpg`))).resize(1024).jpeg({ quality: 95 }).toBuffer();
const engine = await createEngine();
const base: SwapStrategy = { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5 };
const strategies: Record<string, Partial<SwapStrategy>> = JSON.parse(process.env.STRATS ?? 'null') ?? {
  H: {},
  'XsC: H, shape 0.35, smoothstep2, out 0.08, tex 0.06, edge colour smoothed 0.15 / 0.04, face check': {
    shape: 0.35, ramp: 'smoothstep2', outward: 0.08, textureFeather: 0.06, edgeSmooth: 0.15, edgeSmoothIn: 0.04, edgeSmoothChroma: true, faceCheck: true,
  },
  'X: H, shape 0.35, smoothstep2, out 0.08, tex 0.06, face check': { shape: 0.35, ramp: 'smoothstep2', outward: 0.08, textureFeather: 0.06, faceCheck: true },
  'code default': { mask: 'oval', blend: 'membrane+edge', feather: 0.06, colour: true },
};
const PAIRS = JSON.parse(process.env.PAIRS ?? '[[1,0,5,0],[6,2,3,1]]') as number[][];
const TILE = Number(process.env.TILE ?? 400);
const rows: Buffer[][] = [];
for (const [sp, sf, tp, tf] of PAIRS) {
  const [source, target] = await Promise.all([photo(sp!), photo(tp!)]);
  const tRaw = await sharp(target).raw().toBuffer({ resolveWithObject: true });
  const row: Buffer[] = [];
  let box: number[] = [];
  for (const [name, st] of Object.entries(strategies)) {
    const res = await engine.swap({ source, target, sourceIndices: [sf!], targetIndices: [tf!], order: 'large-small', interpolation: 'Bilinear', format: 'png', quality: 95, seed: 1, strategy: { ...base, ...st } });
    if (!res.ok) throw new Error(res.message);
    box = res.targetBoxes[tf!]!;
    const side = Math.round(Math.max(box[2]!, box[3]!) * Number(process.env.ZOOM ?? 1.1));
    const left = Math.max(0, Math.min(tRaw.info.width - side, Math.round(box[0]! + box[2]! / 2 - side / 2)));
    const top = Math.max(0, Math.min(tRaw.info.height - side, Math.round(box[1]! + box[3]! / 2 - side / 2)));
    const ext = { left, top, width: side, height: side };
    row.push(await sharp(res.bytes).extract(ext).resize(TILE, TILE).png().toBuffer());
    const o = await sharp(res.bytes).raw().toBuffer();
    const d = Buffer.alloc(o.length);
    for (let i = 0; i < o.length; i++) d[i] = Math.max(0, Math.min(255, 128 + 4 * (o[i]! - tRaw.data[i]!)));
    if (process.env.DIFF) row.push(await sharp(d, { raw: { width: tRaw.info.width, height: tRaw.info.height, channels: 3 } }).extract(ext).resize(TILE, TILE).png().toBuffer());
    console.log(name, res.timingsMs);
  }
  rows.push(row);
}
const cols = rows[0]!.length;
await sharp({ create: { width: cols * (TILE + 6), height: rows.length * (TILE + 6), channels: 3, background: '#fff' } })
  .composite(rows.flatMap((r, y) => r.map((input, x) => ({ input, left: x * (TILE + 6), top: y * (TILE + 6) })))).jpeg({ quality: 88 }).toFile(process.env.OUT ?? join(dirname(new URL(import.meta.url).pathname), '..', 'docs', 'images', 'seam-strategies-2.jpg'));
