// Benchmark of the local face-swap engine (src/engine):
//  1. swap latency per image at 512 and 1024 px (p50 after warm-up, one thread),
//  2. detection time per image,
//  3. swaps per second through the thread pool at its default size,
//  4. the identity figure used by face-swap papers, per blend/mask strategy:
//     over every source/target pair of the sample faces (faces of different
//     photos), the share of swaps whose output face is closer (cosine of
//     Human's description embeddings) to the source face than to the original
//     target face, with the mean of each similarity.
// Usage: npm run bench:local-engine [-- --smoke] [-- --pairs N] [-- --no-quality] [-- --no-perf]
//        [-- --strategies 'name;name'] [-- --json]
import { availableParallelism, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { cosine } from '../src/engine/embed.js';
import { createEngine } from '../src/engine/engine.js';
import { createSwapPool } from '../src/engine/pool.js';
import { DEFAULT_STRATEGY, type SwapRequest, type SwapStrategy } from '../src/engine/swap.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const asJson = args.includes('--json');
const withQuality = !args.includes('--no-quality');
const withPerf = !args.includes('--no-perf');
const pairsArg = args.indexOf('--pairs');
const maxPairs = pairsArg >= 0 ? Number(args[pairsArg + 1]) : smoke ? 1 : Infinity;

const require = createRequire(import.meta.url);
const sampleDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const sample = (n: number) => readFileSync(join(sampleDir, `sample${n}.jpg`));
const at = (n: number, width: number) => sharp(sample(n)).resize(width).jpeg({ quality: 95 }).toBuffer();

const STRATEGIES: Record<string, SwapStrategy> = {
  'oval+feather': { mask: 'oval', blend: 'feather', colour: true, poseMatch: true, occluders: false },
  'inner+feather': { mask: 'inner', blend: 'feather', colour: true, poseMatch: true, occluders: false },
  'inner+membrane': { mask: 'inner', blend: 'membrane', colour: true, poseMatch: true, occluders: false },
  'oval+membrane': { mask: 'oval', blend: 'membrane', colour: true, poseMatch: true, occluders: false },
  'inner+feather, no pose match': { mask: 'inner', blend: 'feather', colour: true, poseMatch: false, occluders: false },
  'inner+feather+occluders': { mask: 'inner', blend: 'feather', colour: true, poseMatch: true, occluders: true },
};
const strategiesArg = args.indexOf('--strategies');
const chosenStrategies = strategiesArg >= 0
  ? Object.fromEntries(args[strategiesArg + 1]!.split(';').map((name) => {
    const st = STRATEGIES[name];
    if (!st) throw new Error(`unknown strategy ${name}; known: ${Object.keys(STRATEGIES).join('; ')}`);
    return [name, st];
  }))
  : STRATEGIES;

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const log = (line: string) => { if (!asJson) console.log(line); };

function request(source: Buffer, target: Buffer, strategy?: SwapStrategy): SwapRequest {
  return {
    source, target, sourceIndices: [0], targetIndices: [0], order: 'large-small',
    interpolation: 'Bilinear', format: 'jpeg', quality: 90, seed: 1, strategy,
  };
}

async function latency(sizes: number[], runs: number, warmup: number) {
  const engine = await createEngine();
  const out: Record<string, { p50Ms: number; breakdownMs: Record<string, number>; detectMs: number }> = {};
  for (const size of sizes) {
    const [src, tgt] = await Promise.all([at(1, size), at(3, size)]);
    const totals: number[] = [];
    const parts: Record<string, number[]> = {};
    for (let i = 0; i < warmup + runs; i++) {
      const res = await engine.swap(request(src, tgt));
      if (!res.ok) throw new Error(res.message);
      if (i < warmup) continue;
      totals.push(res.timingsMs.total!);
      for (const [k, v] of Object.entries(res.timingsMs)) (parts[k] ??= []).push(v);
    }
    const detect: number[] = [];
    for (let i = 0; i < runs; i++) detect.push((await engine.detect(tgt, 'large-small')).ms);
    out[`${size}px`] = {
      p50Ms: round(p50(totals)),
      breakdownMs: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(p50(v))])),
      detectMs: round(p50(detect)),
    };
    log(`swap ${size}px: p50 ${round(p50(totals))} ms  (${Object.entries(out[`${size}px`]!.breakdownMs).map(([k, v]) => `${k} ${v}`).join(', ')})`);
    log(`detect ${size}px (one image): p50 ${round(p50(detect))} ms`);
  }
  return out;
}

async function throughput(size: number, swaps: number, poolSize?: number) {
  const pool = createSwapPool({ size: poolSize });
  try {
    const startup = performance.now();
    await pool.ready();
    const readyMs = performance.now() - startup;
    const [src, tgt] = await Promise.all([at(1, size), at(3, size)]);
    await Promise.all(Array.from({ length: pool.size }, () => pool.swap(request(src, tgt))));
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: swaps }, () => pool.swap(request(src, tgt))));
    const seconds = (performance.now() - t0) / 1000;
    if (results.some((r) => !r.ok)) throw new Error('a throughput swap failed');
    const perSecond = round(swaps / seconds, 2);
    log(`pool of ${pool.size} threads (models loaded in ${Math.round(readyMs)} ms): ${perSecond} swaps/s at ${size}px over ${swaps} swaps`);
    return { threads: pool.size, size, swaps, perSecond, modelLoadMs: Math.round(readyMs) };
  } finally {
    await pool.close();
  }
}

interface Face { photo: number; index: number; box: [number, number, number, number]; embedding: number[] }

async function quality(width: number, strategies: Record<string, SwapStrategy>, limit: number, poolSize?: number) {
  // Every pair is queued at once; the pool's default queue limit is for servers.
  // The memo keeps each thread from detecting the same six photos again for every pair and strategy.
  const pool = createSwapPool({ size: poolSize, description: true, maxQueue: Number.MAX_SAFE_INTEGER, memo: 8 });
  try {
    await pool.ready();
    const photos = smoke ? [1, 3] : [1, 2, 3, 4, 5, 6];
    const images = new Map<number, Buffer>();
    await Promise.all(photos.map(async (n) => images.set(n, await at(n, width))));
    const faces: Face[] = [];
    for (const n of photos) {
      const d = await pool.detect(images.get(n)!, 'large-small');
      const embeddings = await Promise.all(d.faces.map((f) => pool.embed(images.get(n)!, f.box)));
      d.faces.forEach((f, index) => {
        const embedding = embeddings[index];
        if (embedding) faces.push({ photo: n, index, box: f.box, embedding });
      });
    }
    const pairs: Array<[Face, Face]> = [];
    for (const s of faces) for (const t of faces) if (s.photo !== t.photo) pairs.push([s, t]);
    const chosen = pairs.slice(0, Math.min(pairs.length, limit));
    log(`quality: ${faces.length} sample faces, ${chosen.length} source/target pairs (faces of different photos) at ${width}px`);
    const rows: Record<string, { pairs: number; closerToSource: number; meanSimSource: number; meanSimTarget: number; lost: number }> = {};
    for (const [name, strategy] of Object.entries(strategies)) {
      const sims = await Promise.all(chosen.map(async ([s, t]) => {
        const res = await pool.swap({ ...request(images.get(s.photo)!, images.get(t.photo)!, strategy), sourceIndices: [s.index], targetIndices: [t.index] });
        if (!res.ok) return null;
        const e = await pool.embed(res.bytes, t.box);
        return e ? { source: cosine(e, s.embedding), target: cosine(e, t.embedding) } : null;
      }));
      const ok = sims.filter((x): x is { source: number; target: number } => x !== null);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
      rows[name] = {
        pairs: ok.length,
        closerToSource: round(ok.filter((x) => x.source > x.target).length / (ok.length || 1), 3),
        meanSimSource: round(mean(ok.map((x) => x.source)), 3),
        meanSimTarget: round(mean(ok.map((x) => x.target)), 3),
        lost: sims.length - ok.length,
      };
      const r = rows[name]!;
      log(`  ${name.padEnd(30)} closer to source ${(r.closerToSource * 100).toFixed(1)}%  mean sim(out, source) ${r.meanSimSource}  mean sim(out, target) ${r.meanSimTarget}  (${r.pairs} pairs${r.lost ? `, ${r.lost} without a face found in the output` : ''})`);
    }
    return { width, faces: faces.length, rows };
  } finally {
    await pool.close();
  }
}

const started = performance.now();
log(`local engine bench${smoke ? ' (smoke)' : ''}: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, default strategy ${JSON.stringify(DEFAULT_STRATEGY)}`);
const report = {
  cores: availableParallelism(),
  loadAverageAtStart: loadavg(),
  latency: withPerf ? await latency(smoke ? [256] : [512, 1024], smoke ? 1 : 7, smoke ? 1 : 2) : null,
  throughput: withPerf ? await throughput(smoke ? 256 : 1024, smoke ? 2 : 24, smoke ? 1 : undefined) : null,
  quality: withQuality ? await quality(smoke ? 384 : 1024, smoke ? { default: DEFAULT_STRATEGY } : chosenStrategies, maxPairs, smoke ? 1 : undefined) : null,
  loadAverageAtEnd: loadavg(),
  seconds: round((performance.now() - started) / 1000),
};
log(`done in ${report.seconds} s; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
if (asJson) console.log(JSON.stringify(report));
