// Benchmark of the local face-swap engine (src/engine):
//  1. swap latency per image at 512 and 1024 px (p50 after warm-up, one thread),
//  2. detection time per image,
//  3. swaps per second through the thread pool at its default size,
//  4. three quality figures per blend/mask strategy, over every source/target
//     pair of the sample faces (faces of different photos, 400 pairs):
//     identity, the figure face-swap papers use (share of swaps whose output
//     face is closer, by cosine of Human's description embeddings, to the
//     source face than to the original target face); pose/expression
//     fidelity (mean mesh-point distance output↔target over the target's
//     inter-ocular distance); seam visibility (gradient energy the blend added
//     along its edge, relative to the target's own there). The last two are
//     defined in bench/support/swap-quality.ts.
// Usage: npm run bench:local-engine [-- --smoke] [-- --pairs N] [-- --no-quality] [-- --no-perf]
//        [-- --strategies 'name;name'] [-- --every K (every K-th pair, for screening)] [-- --json]
//        [-- --pairs-out file.jsonl (per-pair figures)] [-- --custom '{"name": {strategy fields over H}}']
import { createHash } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { cosine } from '../src/engine/embed.js';
import { createEngine } from '../src/engine/engine.js';
import { createSwapPool } from '../src/engine/pool.js';
import { DEFAULT_STRATEGY, type SwapRequest, type SwapStrategy } from '../src/engine/swap.js';
import { landmarkError, seamVisibility, type Rgb, type Seam } from './support/swap-quality.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const asJson = args.includes('--json');
const withQuality = !args.includes('--no-quality');
const withPerf = !args.includes('--no-perf');
const pairsArg = args.indexOf('--pairs');
const dumpArg = args.indexOf('--pairs-out');
const dumpPath = dumpArg >= 0 ? args[dumpArg + 1] : undefined;
const maxPairs = pairsArg >= 0 ? Number(args[pairsArg + 1]) : smoke ? 1 : Infinity;
// --every K: screen on every K-th pair (spread over all photos) instead of the first N.
const everyArg = args.indexOf('--every');
const every = everyArg >= 0 ? Math.max(1, Number(args[everyArg + 1])) : 1;

const require = createRequire(import.meta.url);
const sampleDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const sample = (n: number) => readFileSync(join(sampleDir, `sample${n}.jpg`));
const at = (n: number, width: number) => sharp(sample(n)).resize(width).jpeg({ quality: 95 }).toBuffer();

// Each row spells out every field: what a row leaves out would otherwise come
// from DEFAULT_STRATEGY and change when the default does.
const row = (st: SwapStrategy): SwapStrategy => ({ shape: 0, twoBand: false, feather: 0, ramp: 'smoothstep', outward: 0, textureFeather: 0, toneFeather: 0, edgeFade: 0, detailOnly: false, ditherFade: false, edgeLimit: 0, outwardLimit: 0, closeCracks: 0, crackTexture: 'fill', membraneRadius: 0, faceCheck: false, edgeSmooth: 0, edgeSmoothIn: 0, edgeSmoothChroma: false, edgeLightLimit: 0, outwardSkinOnly: 0, toneRatio: 0, toneRatioInside: 0, toneSkinInside: false, outline: 0, ...st });
const STRATEGIES: Record<string, SwapStrategy> = Object.fromEntries(Object.entries({
  'oval+feather': { mask: 'oval', blend: 'feather', colour: true, poseMatch: true, occluders: false },
  'inner+feather': { mask: 'inner', blend: 'feather', colour: true, poseMatch: true, occluders: false },
  'inner+membrane': { mask: 'inner', blend: 'membrane', colour: true, poseMatch: true, occluders: false },
  'oval+membrane': { mask: 'oval', blend: 'membrane', colour: true, poseMatch: true, occluders: false },
  'inner+feather, no pose match': { mask: 'inner', blend: 'feather', colour: true, poseMatch: false, occluders: false },
  'inner+feather+occluders': { mask: 'inner', blend: 'feather', colour: true, poseMatch: true, occluders: true },
  'oval+poisson': { mask: 'oval', blend: 'poisson', colour: true, poseMatch: true, occluders: false },
  'oval+poisson, skin colour': { mask: 'oval', blend: 'poisson', colour: 'skin', poseMatch: true, occluders: false },
  'oval+poisson, skin mean': { mask: 'oval', blend: 'poisson', colour: 'skin-mean', poseMatch: true, occluders: false },
  'oval+poisson, no colour': { mask: 'oval', blend: 'poisson', colour: false, poseMatch: true, occluders: false },
  'hairline+poisson, skin colour': { mask: 'hairline', blend: 'poisson', colour: 'skin', poseMatch: true, occluders: false },
  'hairline+poisson, skin mean': { mask: 'hairline', blend: 'poisson', colour: 'skin-mean', poseMatch: true, occluders: false },
  'oval+membrane, skin colour': { mask: 'oval', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false },
  'hairline+membrane, skin colour': { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false },
  'hairline+membrane, skin, shape .5': { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5 },
  'hairline+membrane, skin, shape .5, f8': { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5, feather: 0.08 },
  'hairline+membrane, skin, shape 1, f8': { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 1, feather: 0.08 },
  'hairline+membrane, skin, shape .5, two-band': { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5, twoBand: true },
  'hairline+membrane+edge, skin, shape .5, two-band': { mask: 'hairline', blend: 'membrane+edge', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5, twoBand: true },
  'oval+membrane+edge, f6, shape .5': { mask: 'oval', blend: 'membrane+edge', colour: true, poseMatch: true, occluders: false, feather: 0.06, shape: 0.5 },
  'hairline+membrane+edge, skin, f6, shape .5': { mask: 'hairline', blend: 'membrane+edge', colour: 'skin', poseMatch: true, occluders: false, feather: 0.06, shape: 0.5 },
  'oval+membrane+edge, f6': { mask: 'oval', blend: 'membrane+edge', colour: true, poseMatch: true, occluders: false, feather: 0.06 },
  'code default before issue 19 (oval+membrane+edge, f6, shape .5)': { mask: 'oval', blend: 'membrane+edge', feather: 0.06, colour: true, poseMatch: true, occluders: false, shape: 0.5 },
  ...layeredRows(),
} satisfies Record<string, SwapStrategy>).map(([name, st]) => [name, row(st)]));

/** Issue 19's seam work: the documented default's base with gentle ramps, an outward tone feather and texture fade-in. */
function layeredRows(): Record<string, SwapStrategy> {
  const base: SwapStrategy = { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5 };
  const out: Record<string, SwapStrategy> = {
    'H': base,
    'H, dither fade': { ...base, ditherFade: true },
    'H, cubic': { ...base, ramp: 'cubic' },
    'H, cubic, f8': { ...base, ramp: 'cubic', feather: 0.08 },
  };
  for (const ramp of ['cubic', 'smoothstep2'] as const) {
    for (const o of [0, 0.04, 0.08]) for (const tf of [0, 0.06, 0.1]) {
      if (!o && !tf) continue;
      out[`H, ${ramp}, out ${o}, tex ${tf}`] = { ...base, ramp, outward: o, textureFeather: tf };
      out[`H, ${ramp}, out ${o}, tex ${tf}, df`] = { ...base, ramp, outward: o, textureFeather: tf, ditherFade: true };
    }
  }
  // The same with the edge made exact first (membrane+edge: the Poisson correction of what the membrane leaves on the edge), so no tone step is left to extend.
  const exact: SwapStrategy = { ...base, blend: 'membrane+edge' };
  for (const ramp of ['cubic', 'smoothstep2'] as const) {
    for (const o of [0, 0.02, 0.04]) for (const tf of [0.06, 0.1]) {
      out[`E, ${ramp}, out ${o}, tex ${tf}`] = { ...exact, ramp, outward: o, textureFeather: tf };
    }
  }
  // Shape transfer 1.0 with the layered blends.
  for (const [name, st] of Object.entries({
    'H, shape 1': { ...base, shape: 1 },
    'H, shape 1, cubic, out 0.04, tex 0.06': { ...base, shape: 1, ramp: 'cubic', outward: 0.04, textureFeather: 0.06 },
    'E, shape 1, cubic, out 0.02, tex 0.06': { ...exact, shape: 1, ramp: 'cubic', outward: 0.02, textureFeather: 0.06 },
    'E, shape 1, cubic, out 0.04, tex 0.06': { ...exact, shape: 1, ramp: 'cubic', outward: 0.04, textureFeather: 0.06 },
    'E, shape 1, smoothstep2, out 0.02, tex 0.06': { ...exact, shape: 1, ramp: 'smoothstep2', outward: 0.02, textureFeather: 0.06 },
  } satisfies Record<string, SwapStrategy>)) out[name] = st;
  // The exact edge correction fading over a narrower ring, so more of the source's tone stays in the face's outer ring.
  for (const ef of [0.015, 0.025, 0.035]) for (const [o, tf] of [[0.04, 0.06], [0.04, 0.04], [0.06, 0.04]] as const) {
    out[`E, edge ${ef}, cubic, out ${o}, tex ${tf}`] = { ...exact, edgeFade: ef, ramp: 'cubic', outward: o, textureFeather: tf };
  }
  // Exact edge, nothing added outside the region: tone over a short ramp, texture over a longer one.
  for (const ramp of ['smoothstep', 'cubic'] as const) for (const tn of [0.01, 0.02, 0.04]) {
    out[`E, edge 0.015, ${ramp}, tone ${tn}, tex 0.04`] = { ...exact, edgeFade: 0.015, ramp, toneFeather: tn, textureFeather: 0.04 };
  }
  // The source's fine detail (high-pass, above ~1.2 % of the face width) over the target's own low-pass tone.
  out['H, detail only, tex 0.04'] = { ...base, detailOnly: true, textureFeather: 0.04 };
  out['H, detail only, cubic, tex 0.04'] = { ...base, detailOnly: true, ramp: 'cubic', textureFeather: 0.04 };
  // Tone faded in over a short inward ramp (no tone step on the edge, nothing added outside the region), texture over a wider one.
  for (const ramp of ['cubic', 'smoothstep2', 'smoothstep'] as const) {
    for (const tn of [0.01, 0.02, 0.03]) for (const tf of [0.06, 0.1]) {
      out[`H, ${ramp}, tone ${tn}, tex ${tf}`] = { ...base, ramp, toneFeather: tn, textureFeather: tf };
    }
  }
  // Cracks closed (warp.ts#closeCracks), and the exact edge correction limited to what exceeds `edgeLimit` levels (the rest carried outward).
  const cc = 0.02;
  for (const [name, st] of Object.entries({
    'H, cc': { ...base, closeCracks: cc },
    'H, cc, cubic, out 0.04, tex 0.06': { ...base, closeCracks: cc, ramp: 'cubic', outward: 0.04, textureFeather: 0.06 },
    'E, cc, edge 0.025, cubic, out 0.04, tex 0.04': { ...exact, closeCracks: cc, edgeFade: 0.025, ramp: 'cubic', outward: 0.04, textureFeather: 0.04 },
  } satisfies Record<string, SwapStrategy>)) out[name] = st;
  // Issue 19's second pass: the two strategies at or past the three figures on the 400 pairs (docs/LOCAL-ENGINE.md), both with a visible halo.
  const x: SwapStrategy = { ...base, shape: 0.35, ramp: 'smoothstep2', outward: 0.08, textureFeather: 0.06, faceCheck: true };
  out['X: H, shape .35, smoothstep2, out 0.08, tex 0.06, face check'] = x;
  out['XsC: X, edge colour smoothed 0.15 over 0.04'] = { ...x, edgeSmooth: 0.15, edgeSmoothIn: 0.04, edgeSmoothChroma: true };
  // Issue 19's third pass: XsC's tone kept off the target's hair (outside by lightness, inside by lightness or the skin model); each costs identity.
  const xsc = out['XsC: X, edge colour smoothed 0.15 over 0.04']!;
  for (const [o, i] of [[1, 1], [2, 2], [3, 3], [2, 0], [2, 0.5], [2, 1], [1, 0.5]] as const) out[`XsC, tone ratio out ${o} in ${i}`] = { ...xsc, toneRatio: o, toneRatioInside: i };
  out['XsC, tone on skin inside'] = { ...xsc, toneSkinInside: true };
  out['XsC, tone ratio out 2, on skin inside'] = { ...xsc, toneRatio: 2, toneRatioInside: 0, toneSkinInside: true };
  // The tone carried far (20 % of the face width) but only over the target's skin, stopping at its hair within 2 px.
  out['XsC, tone ratio out 2, outward 0.2 over skin only'] = { ...xsc, toneRatio: 2, outward: 0.2, outwardSkinOnly: 0.001 };
  // The face outline moved towards the source's too, the target around it warped along (liquify.ts); over the code default's blend.
  const codeDefault: SwapStrategy = { mask: 'oval', blend: 'membrane+edge', feather: 0.06, colour: true, poseMatch: true, occluders: false, shape: 0.5 };
  for (const [sh, ol] of [[0.5, 1], [0.5, 0.75], [0.5, 0.5], [0.4, 1], [0.35, 1], [0.25, 1]] as const) out[`code default, shape ${sh}, outline ${ol}`] = { ...codeDefault, shape: sh, outline: ol };
  out['XsC, tone ratio out 1 in 1, outline 1'] = { ...xsc, toneRatio: 1, toneRatioInside: 1, outline: 1 };
  for (const c of [0, 0.01]) {
    out[`E, cc ${c}, edge 0.025 limit 20, cubic, out 0.04, tex 0.04`] = { ...exact, closeCracks: c, edgeFade: 0.025, edgeLimit: 20, ramp: 'cubic', outward: 0.04, textureFeather: 0.04 };
  }
  for (const lim of [6, 12, 20, 30]) for (const [ef, o, tf] of [[0.025, 0.04, 0.04], [0.025, 0.06, 0.06], [0.04, 0.06, 0.06]] as const) {
    out[`E, cc, edge ${ef} limit ${lim}, cubic, out ${o}, tex ${tf}`] = { ...exact, closeCracks: cc, edgeFade: ef, edgeLimit: lim, ramp: 'cubic', outward: o, textureFeather: tf };
    out[`E, cc, edge ${ef} limit ${lim}, smoothstep2, out ${o}, tex ${tf}`] = { ...exact, closeCracks: cc, edgeFade: ef, edgeLimit: lim, ramp: 'smoothstep2', outward: o, textureFeather: tf };
  }
  return out;
}
const strategiesArg = args.indexOf('--strategies');
// --custom '{"name": {...fields}}': rows given on the command line, each over H (hairline + membrane, skin colour, shape 0.5), for screening.
const customArg = args.indexOf('--custom');
const CUSTOM_BASE: SwapStrategy = { mask: 'hairline', blend: 'membrane', colour: 'skin', poseMatch: true, occluders: false, shape: 0.5 };
const custom: Record<string, SwapStrategy> = customArg >= 0
  ? Object.fromEntries(Object.entries(JSON.parse(args[customArg + 1]!) as Record<string, Partial<SwapStrategy>>).map(([name, st]) => [name, row({ ...CUSTOM_BASE, ...st })]))
  : {};
const chosenStrategies = strategiesArg >= 0 || customArg >= 0
  ? {
    ...Object.fromEntries((strategiesArg >= 0 ? args[strategiesArg + 1]!.split(';') : []).map((name) => {
      const st = STRATEGIES[name];
      if (!st) throw new Error(`unknown strategy ${name}; known: ${Object.keys(STRATEGIES).join('; ')}`);
      return [name, st];
    })),
    ...custom,
  }
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

/** The previous default, timed interleaved with the current one so a shared machine's load hits both alike. */
const PREVIOUS_DEFAULT = 'oval+membrane';

async function latency(sizes: number[], runs: number, warmup: number) {
  const engine = await createEngine();
  const out: Record<string, { p50Ms: number; breakdownMs: Record<string, number>; detectMs: number; previousDefaultP50Ms: number }> = {};
  for (const size of sizes) {
    const [src, tgt] = await Promise.all([at(1, size), at(3, size)]);
    const totals: number[] = [];
    const previous: number[] = [];
    const parts: Record<string, number[]> = {};
    for (let i = 0; i < warmup + runs; i++) {
      const res = await engine.swap(request(src, tgt));
      const old = await engine.swap(request(src, tgt, STRATEGIES[PREVIOUS_DEFAULT]));
      if (!res.ok) throw new Error(res.message);
      if (!old.ok) throw new Error(old.message);
      if (i < warmup) continue;
      totals.push(res.timingsMs.total!);
      previous.push(old.timingsMs.total!);
      for (const [k, v] of Object.entries(res.timingsMs)) (parts[k] ??= []).push(v);
    }
    const detect: number[] = [];
    for (let i = 0; i < runs; i++) detect.push((await engine.detect(tgt, 'large-small')).ms);
    out[`${size}px`] = {
      p50Ms: round(p50(totals)),
      breakdownMs: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(p50(v))])),
      detectMs: round(p50(detect)),
      previousDefaultP50Ms: round(p50(previous)),
    };
    log(`swap ${size}px: p50 ${round(p50(totals))} ms  (${Object.entries(out[`${size}px`]!.breakdownMs).map(([k, v]) => `${k} ${v}`).join(', ')}); previous default (${PREVIOUS_DEFAULT}), interleaved: p50 ${round(p50(previous))} ms`);
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
    // Every swap was the same request on one of the threads: the same bytes each time is the determinism check.
    const distinct = new Set(results.map((r) => (r.ok ? createHash('sha256').update(r.bytes).digest('hex') : ''))).size;
    log(`pool of ${pool.size} threads (models loaded in ${Math.round(readyMs)} ms): ${perSecond} swaps/s at ${size}px over ${swaps} swaps; ${distinct === 1 ? 'all outputs identical (reproduced)' : `${distinct} DIFFERENT outputs for one request`}`);
    return { threads: pool.size, size, swaps, perSecond, modelLoadMs: Math.round(readyMs), distinctOutputs: distinct };
  } finally {
    await pool.close();
  }
}

interface Face { photo: number; index: number; box: [number, number, number, number]; embedding: number[]; mesh: Float64Array }

interface PairFigures { source: number; target: number; landmarks: number; seam: Seam | null; seamVisible: Seam | null }

/** Levels of difference from which a pixel counts as visibly changed, for the second seam figure. */
const VISIBLE_LEVELS = 8;

/** Run `fn` over `items` with at most `limit` in flight (the outputs are large; the pool's queue need not hold them all). */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

const decodeRgb = async (bytes: Buffer): Promise<Rgb> => {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1]! : NaN);

/**
 * The three quality figures over every source/target pair of the sample faces
 * (faces of different photos): identity (share of outputs closer, by Human's
 * embedding, to the source than to the original target), pose/expression
 * fidelity (bench/support/swap-quality.ts#landmarkError) and seam visibility
 * (#seamVisibility). Outputs are PNG so the changed pixels are exactly the
 * blend's. A pair whose output has no face found is counted as lost (it cannot
 * score identity or landmarks) but still scores the seam.
 */
async function quality(width: number, strategies: Record<string, SwapStrategy>, limit: number, poolSize?: number) {
  // The memo keeps each thread from detecting the same six photos again for every pair and strategy.
  const pool = createSwapPool({ size: poolSize, description: true, maxQueue: Number.MAX_SAFE_INTEGER, memo: 8 });
  try {
    await pool.ready();
    const photos = smoke ? [1, 3] : [1, 2, 3, 4, 5, 6];
    const images = new Map<number, Buffer>();
    const pixels = new Map<number, Rgb>();
    await Promise.all(photos.map(async (n) => {
      images.set(n, await at(n, width));
      pixels.set(n, await decodeRgb(images.get(n)!));
    }));
    const faces: Face[] = [];
    for (const n of photos) {
      const d = await pool.detect(images.get(n)!, 'large-small');
      const described = await Promise.all(d.faces.map((f) => pool.describe(images.get(n)!, f.box)));
      d.faces.forEach((f, index) => {
        const desc = described[index];
        if (desc) faces.push({ photo: n, index, box: f.box, embedding: desc.embedding, mesh: desc.mesh });
      });
    }
    const pairs: Array<[Face, Face]> = [];
    for (const s of faces) for (const t of faces) if (s.photo !== t.photo) pairs.push([s, t]);
    const chosen = pairs.filter((_, i) => i % every === 0).slice(0, limit);
    log(`quality: ${faces.length} sample faces, ${chosen.length} source/target pairs (faces of different photos) at ${width}px`);
    log('  identity = outputs closer to source than to target; landmarks = mean mesh distance output↔target / target inter-ocular (lower is truer);');
    log('  seam = Σ|∇(out−target)|² / Σ|∇target|² in a band along the changed region\'s edge (0 = invisible; ratio = Σ|∇out|²/Σ|∇target|², 1 = as the target)');
    log(`  seam@${VISIBLE_LEVELS} = the same with "changed" meaning a channel differs by more than ${VISIBLE_LEVELS} levels (the visible edge; a faint tone shift spread outside the face cannot move the band)`);
    const rows: Record<string, {
      pairs: number; closerToSource: number; meanSimSource: number; meanSimTarget: number; lost: number;
      landmarkError: number; landmarkErrorMedian: number; seam: number; seamMedian: number; seamRatio: number; seamPairs: number;
      seamVisible: number; seamVisibleMedian: number; seconds: number;
    }> = {};
    for (const [name, strategy] of Object.entries(strategies)) {
      const t0 = performance.now();
      const figures = await mapLimited(chosen, pool.size * 3, async ([s, t]): Promise<PairFigures | { lost: true; seam: Seam | null; seamVisible: Seam | null } | null> => {
        const res = await pool.swap({ ...request(images.get(s.photo)!, images.get(t.photo)!, strategy), format: 'png', sourceIndices: [s.index], targetIndices: [t.index] });
        if (!res.ok) return null;
        const [desc, out] = await Promise.all([pool.describe(res.bytes, t.box), decodeRgb(res.bytes)]);
        const seam = seamVisibility(out, pixels.get(t.photo)!, t.box);
        const seamVisible = seamVisibility(out, pixels.get(t.photo)!, t.box, undefined, VISIBLE_LEVELS);
        if (!desc) return { lost: true, seam, seamVisible };
        return { source: cosine(desc.embedding, s.embedding), target: cosine(desc.embedding, t.embedding), landmarks: landmarkError(desc.mesh, t.mesh), seam, seamVisible };
      });
      if (dumpPath) {
        appendFileSync(dumpPath, `${JSON.stringify({ strategy: name, pairs: chosen.map(([s, t], i) => ({ sourceFace: [s.photo, s.index], targetFace: [t.photo, t.index], ...figures[i] })) })}\n`);
      }
      const ok = figures.filter((x): x is PairFigures => x !== null && !('lost' in x));
      const seams = figures.map((x) => x?.seam).filter((x): x is Seam => Boolean(x));
      const visible = figures.map((x) => x?.seamVisible).filter((x): x is Seam => Boolean(x));
      rows[name] = {
        pairs: ok.length,
        closerToSource: round(ok.filter((x) => x.source > x.target).length / (ok.length || 1), 3),
        meanSimSource: round(mean(ok.map((x) => x.source)), 3),
        meanSimTarget: round(mean(ok.map((x) => x.target)), 3),
        lost: figures.length - ok.length,
        landmarkError: round(mean(ok.map((x) => x.landmarks)), 4),
        landmarkErrorMedian: round(median(ok.map((x) => x.landmarks)), 4),
        seam: round(mean(seams.map((x) => x.seam)), 3),
        seamMedian: round(median(seams.map((x) => x.seam)), 3),
        seamRatio: round(mean(seams.map((x) => x.ratio)), 3),
        seamPairs: seams.length,
        seamVisible: round(mean(visible.map((x) => x.seam)), 3),
        seamVisibleMedian: round(median(visible.map((x) => x.seam)), 3),
        seconds: round((performance.now() - t0) / 1000),
      };
      const r = rows[name]!;
      log(`  ${name.padEnd(28)} identity ${(r.closerToSource * 100).toFixed(1)}% (sim src ${r.meanSimSource.toFixed(3)}, tgt ${r.meanSimTarget.toFixed(3)}; ${r.pairs} pairs${r.lost ? `, ${r.lost} without a face in the output` : ''})`
        + `  landmarks ${r.landmarkError.toFixed(4)} (median ${r.landmarkErrorMedian.toFixed(4)})`
        + `  seam ${r.seam.toFixed(3)} (median ${r.seamMedian.toFixed(3)}, ratio ${r.seamRatio.toFixed(3)}; ${r.seamPairs} pairs)`
        + `  seam@${VISIBLE_LEVELS} ${r.seamVisible.toFixed(3)} (median ${r.seamVisibleMedian.toFixed(3)})  [${r.seconds} s]`);
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
