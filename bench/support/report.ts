// What every bench prints: the machine, the load next to each figure, a
// readable table, and one JSON line (prefix BENCH_JSON) for tools and the smoke test.
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { serverVersion } from './db.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGb: number;
  node: string;
  postgres: string;
}

export async function machine(): Promise<Machine> {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: await serverVersion(),
  };
}

/** 1-minute load average, read when a figure is taken. */
export function load(): number {
  return Number(loadavg()[0]!.toFixed(2));
}

export type Row = Record<string, string | number>;

export function table(title: string, rows: Row[]): string {
  if (rows.length === 0) return `${title}\n  (no rows)\n`;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    title,
    line(cols),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
    '',
  ].join('\n');
}

export function printJson(bench: string, payload: Record<string, unknown>): void {
  console.log(`BENCH_JSON ${JSON.stringify({ bench, ...payload }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
}

export function hasFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

export function numArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

/** The value after `--name`, or null when the flag is absent. */
export function strArg(name: string): string | null {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return null;
  const v = process.argv[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

const started = performance.now();
export function log(line: string): void {
  process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}
