// Every bench in its smoke mode (tiny sizes), so the scripts cannot rot: each
// runs as `npm run bench:<name> -- --smoke` would, against the suite's
// PostgreSQL server, and its BENCH_JSON line must be well-formed: counts
// match what was asked, latencies finite and positive. The figures themselves
// are not judged here (docs/PERFORMANCE.md is where they are).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminUrl } from './support/db-names.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCHES = ['submissions', 'overhead', 'fanout', 'history', 'inputs'] as const;

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
  }, 600_000); // four benches, one after another: minutes on a loaded machine

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
});
