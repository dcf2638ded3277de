// Makes docs/images/local-swap.jpg: rows of source | target | output, crops
// around the faces, from the offline sample photos (@vladmandic/face-api's
// demo folder), swapped by the local engine with its default strategy.
// Usage: npx tsx scripts/make-local-swap-figure.ts [sourcePhoto sourceFace targetPhoto targetFace]
// (one pair instead of the three rows).
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { createEngine } from '../src/engine/engine.js';

const require = createRequire(import.meta.url);
const sampleDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
// Rows: the README's pair, then the two the old engine did worst on (per-pair
// figures of bench:local-engine): a source with hair across its face, and a
// turned, smiling source onto a face looking down.
const PAIRS: Array<[number, number, number, number]> = process.argv.slice(2).length === 4
  ? [process.argv.slice(2).map(Number) as [number, number, number, number]]
  : [[6, 2, 3, 1], [2, 0, 4, 1], [4, 1, 2, 0]];
const WIDTH = 1024;
const TILE = 360;
const out = join(dirname(new URL(import.meta.url).pathname), '..', 'docs', 'images', 'local-swap.jpg');

const photo = (n: number) => sharp(readFileSync(join(sampleDir, `sample${n}.jpg`))).resize(WIDTH).png().toBuffer();
const engine = await createEngine();

/** A square crop around a face box (1.6× its size), scaled to TILE px. */
async function tile(image: Buffer, box: [number, number, number, number]): Promise<Buffer> {
  const meta = await sharp(image).metadata();
  const side = Math.round(Math.max(box[2], box[3]) * 1.6);
  const left = Math.max(0, Math.min(meta.width! - side, Math.round(box[0] + box[2] / 2 - side / 2)));
  const top = Math.max(0, Math.min(meta.height! - side, Math.round(box[1] + box[3] / 2 - side / 2)));
  return sharp(image).extract({ left, top, width: Math.min(side, meta.width!), height: Math.min(side, meta.height!) }).resize(TILE, TILE).png().toBuffer();
}

const rows: Buffer[][] = [];
for (const [sp, sf, tp, tf] of PAIRS) {
  const [source, target] = await Promise.all([photo(sp), photo(tp)]);
  const res = await engine.swap({
    source, target, sourceIndices: [sf], targetIndices: [tf], order: 'large-small',
    interpolation: 'Bicubic', format: 'png', quality: 95, seed: 1,
  });
  if (!res.ok) throw new Error(`${res.code}: ${res.message}`);
  const sourceBox = (await engine.detect(source, 'large-small')).faces[sf]!.box;
  const targetBox = res.targetBoxes[tf]!;
  rows.push(await Promise.all([tile(source, sourceBox), tile(target, targetBox), tile(res.bytes, targetBox)]));
  console.log(`sample${sp} face ${sf} → sample${tp} face ${tf}`, res.pairs, res.timingsMs);
}
mkdirSync(dirname(out), { recursive: true });
await sharp({ create: { width: TILE * 3 + 16, height: rows.length * (TILE + 8) - 8, channels: 3, background: '#ffffff' } })
  .composite(rows.flatMap((row, r) => row.map((input, i) => ({ input, left: i * (TILE + 8), top: r * (TILE + 8) }))))
  .jpeg({ quality: 88 })
  .toFile(out);
console.log(`wrote ${out}`);
