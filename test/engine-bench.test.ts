// The bench script's --smoke mode runs end to end (tiny sizes, one pair), so
// bench/local-engine.ts cannot rot unnoticed.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const require = createRequire(import.meta.url);

it('bench:local-engine --smoke reports latency, detection, throughput and the identity figure', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'bench/local-engine.ts', '--smoke', '--json'], {
    timeout: 280_000, // under the suite's 300 s test timeout, so the bench's own output is what a failure shows
    maxBuffer: 10 * 1024 * 1024,
  });
  const report = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(report.latency['256px'].p50Ms).toBeGreaterThan(0);
  expect(report.latency['256px'].detectMs).toBeGreaterThan(0);
  expect(report.throughput).toMatchObject({ threads: 1, swaps: 2 });
  expect(report.throughput.perSecond).toBeGreaterThan(0);
  const row = report.quality.rows.default;
  expect(row.pairs).toBe(1);
  expect(row.closerToSource).toBeGreaterThanOrEqual(0);
  expect(row.closerToSource).toBeLessThanOrEqual(1);
  expect(row.meanSimSource).toBeGreaterThan(0);
  expect(row.meanSimTarget).toBeGreaterThan(0);
});
