// Reads load what they return (issue 13): job rows are read without params and
// result unless a selected field needs them, and nested events load their jobs
// level by level, not row by row. Checked on the SQL the service's pool really
// sends (AppOptions.onQuery), against a real PostgreSQL over the real API.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collect, startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, SOURCE_URL, TARGET_URL, TINY_PNG_BASE64 } from './support/fixtures.js';
import { startWorker, type InProcessWorker } from './support/processes.js';

let t: TestApp;
let worker: InProcessWorker;
const sql: string[] = [];
const ids: string[] = [];

/** Statements that read a job's params or result column. */
const heavy = () => sql.filter((s) => /"params"|"result"|\bparams\b|\bresult\b/.test(s) && /jobs/.test(s));
/** Statements other than the API key lookup every request makes. */
const reads = () => sql.filter((s) => !/api_keys/.test(s));

beforeAll(async () => {
  // The worker runs on its own pool, so the app's pool carries the API's statements only.
  // The depth-5 query below (depth 14, cost 1,300,000) is past the default operation limits, which this file does not test.
  t = await startTestApp({ worker: false, onQuery: (s) => sql.push(s), env: { MAX_QUERY_COST: '10000000', MAX_QUERY_DEPTH: '20' } });
  worker = await startWorker(t);
  const create = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
  for (const input of [
    { sourceImage: SOURCE_URL, targetImage: TARGET_URL },
    { sourceImage: TINY_PNG_BASE64, targetImage: TARGET_URL },
    { sourceImage: SOURCE_URL, targetImage: `data:image/png;base64,${TINY_PNG_BASE64}` },
  ]) {
    const res = await t.gql(create, { input });
    ids.push(res.data.result.id);
  }
  for (const id of ids) expect((await waitForFinal(t, id)).status).toBe('COMPLETED');
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await t?.close();
});

beforeEach(() => {
  sql.length = 0;
});

/** events { job { events { job … { id status } } } } nested `depth` times. */
function nested(depth: number): string {
  let inner = 'id status';
  for (let i = 0; i < depth; i++) inner = `events { status job { ${inner} } }`;
  return `{ jobs(first: 3) { edges { node { ${inner} } } } }`;
}

describe('what a read loads', () => {
  it('a history page selecting id and status reads no params or result, in one statement', async () => {
    const res = await t.gql(`{ jobs(first: 3) { edges { node { id status } } } }`);
    expect(res.data.jobs.edges.map((e: any) => e.node.id).sort()).toEqual([...ids].sort());
    expect(heavy()).toEqual([]);
    expect(reads()).toHaveLength(1);
  });

  it('selecting parameters reads params (so the check above can fail), once for the page', async () => {
    const res = await t.gql(`{ jobs(first: 3) { edges { node { id parameters } } } }`);
    expect(res.data.jobs.edges).toHaveLength(3);
    expect(heavy()).toHaveLength(1);
    expect(heavy()[0]).toMatch(/"params"/);
    expect(heavy()[0]).not.toMatch(/"result"/);
  });

  it('nested events and their jobs load level by level, with no params, however deep', async () => {
    const counts: number[] = [];
    for (const depth of [1, 3, 5]) {
      sql.length = 0;
      const res = await t.gql(nested(depth));
      expect(res.errors).toBeUndefined();
      // Every level holds the same 3 jobs' events: 3 jobs × 3 events (QUEUED, SUBMITTED, COMPLETED) at the first.
      let level: any[] = res.data.jobs.edges.map((e: any) => e.node);
      for (let d = 0; d < depth; d++) {
        level = level.flatMap((j) => j.events.map((e: any) => e.job));
        expect(level).toHaveLength(3 * 3 ** (d + 1));
      }
      expect(heavy()).toEqual([]);
      counts.push(reads().length);
    }
    // At most two statements per level (events, then their jobs), whatever the number of rows:
    // depth 5 returns 729 jobs at its deepest level.
    expect(counts[0]).toBeLessThanOrEqual(1 + 2 * 1);
    expect(counts[1]).toBeLessThanOrEqual(1 + 2 * 3);
    expect(counts[2]).toBeLessThanOrEqual(1 + 2 * 5);
  });

  it('job(id) and node(id) read only the selected columns', async () => {
    const one = await t.gql(`query($id: ID!) { job(id: $id) { id status output { sha256 bytes } } }`, { id: ids[0] });
    expect(one.data.job.output.sha256).toMatch(/^[0-9a-f]{64}$/);
    const node = await t.gql(`query($id: ID!) { node(id: $id) { ... on SwapJob { id status } } }`, { id: ids[1] });
    expect(node.data.node.id).toBe(ids[1]);
    // output needs params (base64 was asked or not): read for that job only; node(id) reads no heavy column.
    expect(heavy()).toHaveLength(1);
    expect(heavy()[0]).not.toMatch(/"result"/);
  });

  it('a replaying subscription reads its events with their jobs but no params', async () => {
    const client = t.wsClient();
    const events = await collect(client, `subscription($id: ID!) { jobUpdated(id: $id) { status job { id status } } }`,
      { id: ids[0] }, (evs) => evs.length === 3).finished;
    expect(events.map((e: any) => e.jobUpdated.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    expect(events.every((e: any) => e.jobUpdated.job.id === ids[0])).toBe(true);
    expect(heavy()).toEqual([]);
  });
});
