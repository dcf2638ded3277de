// Every bench in its smoke mode (tiny sizes), so the scripts cannot rot: each
// runs as `npm run bench:<name> -- --smoke` would, against the suite's
// PostgreSQL server, and its BENCH_JSON line must be well-formed: counts
// match what was asked, latencies finite and positive. The figures themselves
// are not judged here (docs/PERFORMANCE.md is where they are).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from './support/browser.js';
import { adminUrl } from './support/db-names.js';
import { findHaproxy } from './support/haproxy.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// The dashboard bench drives Chromium: where none is installed it is left out, as the browser tests are.
const HAS_CHROMIUM = findChromium() !== null;
if (!HAS_CHROMIUM) console.warn('\n!!! NO CHROMIUM: the dashboard bench smoke is SKIPPED (install the Debian `chromium` package). !!!\n');
const BENCHES = ['submissions', 'overhead', 'fanout', 'history', 'inputs', 'labelling', 'scaling', ...(HAS_CHROMIUM ? ['dashboard'] as const : [])] as const;

function runSmoke(name: string): Promise<{ code: number | null; output: string; json: any }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, '--smoke'], {
      cwd: ROOT,
      env: { ...process.env, BENCH_DATABASE_ADMIN_URL: adminUrl() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => {
      const line = output.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      resolve({ code, output, json: line ? JSON.parse(line.slice('BENCH_JSON '.length)) : null });
    });
  });
}

function expectLatency(s: any, n?: number): void {
  expect(s).toBeTruthy();
  if (n !== undefined) expect(s.n).toBe(n);
  expect(s.n).toBeGreaterThan(0);
  for (const k of ['min', 'p50', 'p99', 'max']) {
    expect(Number.isFinite(s[k]), `${k} = ${s[k]}`).toBe(true);
    expect(s[k]).toBeGreaterThan(0);
  }
  expect(s.p50).toBeLessThanOrEqual(s.p99);
  expect(s.p99).toBeLessThanOrEqual(s.max);
}

const results = new Map<string, Awaited<ReturnType<typeof runSmoke>>>();

describe('bench smoke modes', () => {
  beforeAll(async () => {
    // One at a time: each starts several processes, and the rest of the suite (with
    // its timing-sensitive tests) runs beside this file on the same cores.
    for (const name of BENCHES) results.set(name, await runSmoke(name));
  }, 900_000); // seven benches, one after another: minutes on a loaded machine

  it.each(BENCHES)('%s prints a well-formed BENCH_JSON line', (name) => {
    const r = results.get(name)!;
    expect(r.code, r.output).toBe(0);
    expect(r.json?.bench, r.output).toBe(name);
    expect(r.json.smoke).toBe(true);
    expect(r.json.machine.cpus).toBeGreaterThan(0);
  });

  it('submissions: every phase measured requests without errors', () => {
    const { json } = results.get('submissions')!;
    expect(json.phases.map((p: any) => p.name)).toEqual([
      'swapyard, 1 key', 'swapyard, key per client', 'pg INSERT (same row)', 'createJob() service, no HTTP', 'PostGraphile createJob',
    ]);
    for (const p of json.phases) {
      expect(p.errors, p.name).toBe(0);
      expect(p.requests).toBeGreaterThan(0);
      expect(p.perSecond).toBeGreaterThan(0);
      expectLatency(p.latencyMs, p.requests);
    }
    for (const r of Object.values(json.ratios)) expect(Number.isFinite(r as number) && (r as number) > 0).toBe(true);
  });

  it('overhead: every job completed and was matched to its upstream call', () => {
    const { json } = results.get('overhead')!;
    expect(json.sequential.unmatched).toBe(0);
    expectLatency(json.sequential.e2e);
    expect(json.sequential.overhead.n).toBe(json.sequential.e2e.n);
    expect(Number.isFinite(json.sequential.overhead.p50)).toBe(true);
    expect(json.underLoad.unmatched).toBe(0);
    expect(json.underLoad.e2e.n).toBe(json.underLoad.jobs);
    expect(json.drain.failed).toBe(0);
    expect(json.drain.perSecond).toBeGreaterThan(0);
  });

  it('overhead: the steady phase sent at 80 % of the drain rate, and every job has its wait and overhead', () => {
    const { json } = results.get('overhead')!;
    expect(json.steady.share).toBe(0.8);
    expect(json.steady.rate).toBeCloseTo(0.8 * json.drain.perSecond, 6);
    expect(json.steady.unmatched).toBe(0);
    expect(json.steady.wait.n).toBe(json.steady.e2e.n);
    expect(json.steady.e2e.n).toBeGreaterThan(0);
    expect(Number.isFinite(json.steady.wait.p99)).toBe(true);
  });

  it('overhead: the graphile-worker peer drained as many jobs, the same work without failures, and as many no-ops', () => {
    const { json } = results.get('overhead')!;
    for (const task of ['work', 'noop']) {
      const r = json.graphileWorker[task];
      expect(r.task).toBe(task);
      expect(r.jobs).toBe(json.drain.jobs);
      expect(r.failures).toBe(0);
      expect(r.perSecond).toBeGreaterThan(0);
    }
    const ratio = json.ratios.drainSwapyardOverGraphileWorker;
    expect(Number.isFinite(ratio) && ratio > 0).toBe(true);
  });

  it('fanout: every subscriber received every event', () => {
    const { json } = results.get('fanout')!;
    expect(json.fanout.samples).toBe(json.fanout.expectedSamples);
    expectLatency(json.fanout.latencyMs, json.fanout.expectedSamples);
    expect(json.memory.atIdleMb).toBeGreaterThan(0);
    expect(json.memory.baselineMb).toBeGreaterThan(0);
  });

  it('inputs: the read answered with references, every depth of the nested query answered', () => {
    const { json } = results.get('inputs')!;
    expect(json.imagesAsObjects).toBe(true);
    expect(json.read['response bytes']).toBeGreaterThan(0);
    expect(json.nested.map((r: any) => [r.depth, r.outcome])).toEqual([[1, 'ok'], [2, 'ok']]);
  });

  it('labelling: every format and mode timed', () => {
    const { json } = results.get('labelling')!;
    expect(json.results.map((r: any) => `${r.format} ${r.mode}`)).toEqual([
      'image/jpeg XMP (labelOutput)', 'image/jpeg XMP + C2PA (labelOutput)', 'image/jpeg sharp withXmp re-encode (not used)',
      'image/png XMP (labelOutput)', 'image/png XMP + C2PA (labelOutput)', 'image/png sharp withXmp re-encode (not used)',
      'image/webp XMP (labelOutput)', 'image/webp XMP + C2PA (labelOutput)', 'image/webp sharp withXmp re-encode (not used)',
    ]);
    for (const r of json.results) expectLatency(r.ms, json.runs);
  });

  it.skipIf(!HAS_CHROMIUM)('dashboard: every card and thumbnail rendered, frames and long tasks recorded', () => {
    const { json } = results.get('dashboard')!;
    expect(json.results).toHaveLength(json.reps);
    for (const r of json.results) {
      expect(r.cards).toBe(json.jobs);
      expect(r.thumbnails).toBe(json.jobs * 3);
      expect(r.allLoadedMs).toBeGreaterThan(0);
      expectLatency(r.frameMs);
      expect(r.longTasks.count).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(r.layoutShift)).toBe(true);
    }
  });

  it('history: pages timed, creditSpend answers what the ledger says', () => {
    const { json } = results.get('history')!;
    expect(json.jobs).toBeGreaterThan(0);
    for (const rows of [json.pagesBefore, json.pagesAfter]) {
      expect(rows.length).toBe(9);
      for (const r of rows) if (r.first.n) expectLatency(r.first);
    }
    expect(json.spend.ledgerEntries).toBeGreaterThan(0);
    for (const k of ['all', 'range']) {
      expect(json.spend[k].same).toBe(true);
      expect(json.spend[k].groups).toBeGreaterThan(0);
      expectLatency(json.spend[k]);
    }
  });

  it('scaling: both layouts drained every job and took submissions without errors, and the ratios are printed', () => {
    const { json } = results.get('scaling')!;
    // Layout (b) needs haproxy; without it the bench says so and runs (a) alone.
    const withProxy = findHaproxy() !== null;
    expect(json.haproxy).toBe(withProxy);
    expect(json.runs.map((r: any) => r.layout)).toEqual(withProxy ? ['a', 'b'] : ['a']);
    for (const r of json.runs) {
      expect(r.drain.jobs).toBe(json.backlog);
      expect(r.drain.failed).toBe(0);
      expect(r.drain.perSecond).toBeGreaterThan(0);
      expect(r.submissions.errors).toBe(0);
      expect(r.submissions.perSecond).toBeGreaterThan(0);
      expectLatency(r.submissions.latencyMs, r.submissions.requests);
    }
    if (withProxy) for (const v of Object.values(json.ratios)) expect(Number.isFinite(v as number) && (v as number) > 0).toBe(true);
    else expect(json.ratios).toBeNull();
  });
});
