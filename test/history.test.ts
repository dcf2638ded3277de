// jobs(filter, first, after, last, before): a Relay connection over a key's jobs of every model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';

let t: TestApp;
const created: { id: string; model: string; seed: number | null; createdAt: string }[] = [];

const PAGE = `query($first: Int, $after: String, $last: Int, $before: String, $filter: JobFilter, $orderBy: JobOrder) {
  jobs(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    edges { cursor node { id model status seed createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }`;

async function page(vars: Record<string, unknown>) {
  const res = await t.gql(PAGE, vars);
  expect(res.errors).toBeUndefined();
  return res.data.jobs;
}

beforeAll(async () => {
  t = await startTestApp({ worker: false });
  // 15 jobs over the five models, created one after another; v4 and comic jobs get seed 100 + i.
  for (let i = 0; i < 15; i++) {
    const c = MODEL_CASES[i % 5]!;
    const input = { ...c.input, ...(c.model === 'FACESWAP_V4' || c.model === 'FACESWAP_COMIC' ? { seed: 100 + i } : {}) };
    const res = await t.gql(createMutation(c.mutation, `${c.mutation[0]!.toUpperCase()}${c.mutation.slice(1)}Input`), { input });
    const job = res.data.result;
    created.push({ id: job.id, model: job.model, seed: job.seed, createdAt: job.createdAt });
  }
});
afterAll(async () => {
  await t?.close();
});

const newestFirst = () => [...created].reverse().map((j) => j.id);

describe('history', () => {
  it('lists newest first by default, with every model in one connection', async () => {
    const all = await page({ first: 100 });
    expect(all.edges.map((e: any) => e.node.id)).toEqual(newestFirst());
    expect(new Set(all.edges.map((e: any) => e.node.model)).size).toBe(5);
    expect(all.pageInfo.hasNextPage).toBe(false);
  });

  it('defaults to 20 per page and orders oldest first on request', async () => {
    const asc = await page({ orderBy: 'CREATED_AT_ASC' });
    expect(asc.edges.map((e: any) => e.node.id)).toEqual(created.map((j) => j.id));
  });

  it('pages forward by cursor without gaps or repeats, and back again', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const p: any = await page({ first: 4, after });
      seen.push(...p.edges.map((e: any) => e.node.id));
      pages++;
      if (!p.pageInfo.hasNextPage) break;
      expect(p.pageInfo.endCursor).toBe(p.edges.at(-1).cursor);
      after = p.pageInfo.endCursor;
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(newestFirst());

    const last = await page({ last: 4 });
    expect(last.edges.map((e: any) => e.node.id)).toEqual(newestFirst().slice(-4));
    expect(last.pageInfo.hasPreviousPage).toBe(true);
    const before = await page({ last: 4, before: last.pageInfo.startCursor });
    expect(before.edges.map((e: any) => e.node.id)).toEqual(newestFirst().slice(-8, -4));
  });

  it('filters by model, status, seed and created range', async () => {
    const byModel = await page({ first: 100, filter: { model: ['FACESWAP_V2', 'BODY_SWAP'] } });
    expect(byModel.edges.map((e: any) => e.node.id)).toEqual(
      newestFirst().filter((id) => ['FACESWAP_V2', 'BODY_SWAP'].includes(created.find((j) => j.id === id)!.model)),
    );

    const bySeed = await page({ first: 100, filter: { seed: 108 } });
    expect(bySeed.edges.map((e: any) => [e.node.model, e.node.seed])).toEqual([['FACESWAP_COMIC', 108]]);
    const seedAndModel = await page({ first: 100, filter: { seed: 108, model: ['FACESWAP_V4'] } });
    expect(seedAndModel.edges).toEqual([]);

    const from = created[5]!.createdAt;
    const to = created[10]!.createdAt;
    const ranged = await page({ first: 100, filter: { createdAfter: from, createdBefore: to } });
    const expected = created.filter((j) => j.createdAt >= from && j.createdAt < to).map((j) => j.id).reverse();
    expect(ranged.edges.map((e: any) => e.node.id)).toEqual(expected);
    expect(expected.length).toBeGreaterThanOrEqual(5);

    // Run one job to completion (with a worker) and filter by status.
    const finished = await startTestApp({ databaseUrl: t.databaseUrl });
    try {
      await waitForFinal(finished, created[0]!.id, { key: t.key });
    } finally {
      await finished.close();
    }
    const byStatus = await page({ first: 100, filter: { status: ['COMPLETED'] } });
    expect(byStatus.edges.map((e: any) => e.node.status)).not.toContain('QUEUED');
    expect(byStatus.edges.map((e: any) => e.node.id)).toContain(created[0]!.id);
  });

  it('an id whose type names another model is no id of the job', async () => {
    const v4 = created.find((j) => j.model === 'FACESWAP_V4')!;
    const uuid = Buffer.from(v4.id, 'base64').toString().split(':')[1];
    const asV2 = Buffer.from(`FaceswapV2Job:${uuid}`).toString('base64');
    const res = await t.gql(`query($id: ID!) { job(id: $id) { id } node(id: $id) { id } }`, { id: asV2 });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
    const node = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: asV2 });
    expect(node.data.node).toBeNull();
    const own = await t.gql(`query($id: ID!) { node(id: $id) { id ... on FaceswapV4Job { swapType } } }`, { id: v4.id });
    expect(own.data.node).toEqual({ id: v4.id, swapType: 'HEAD' });
  });

  it('filters by provider, alone and with model, and refuses a provider that is none', async () => {
    // Two LOCAL jobs (queued only: this app has no worker), among the 15 SEGMIND ones.
    const local: string[] = [];
    for (const model of ['createFaceswapV2Job', 'createFaceswapV3MultiJob'] as const) {
      const c = MODEL_CASES.find((m) => m.mutation === model)!;
      const res = await t.gql(createMutation(c.mutation, `${c.mutation[0]!.toUpperCase()}${c.mutation.slice(1)}Input`), { input: { ...c.input, provider: 'LOCAL' } });
      expect(res.data.result.id, JSON.stringify(res.data.result)).toBeDefined();
      local.push(res.data.result.id);
    }
    const PROVIDERS = `query($filter: JobFilter) { jobs(first: 100, filter: $filter) { edges { node { id model provider } } } }`;
    const byProvider = async (filter: Record<string, unknown>) => {
      const res = await t.gql(PROVIDERS, { filter });
      expect(res.errors).toBeUndefined();
      return res.data.jobs.edges.map((e: any) => e.node);
    };
    const onLocal = await byProvider({ provider: ['LOCAL'] });
    expect(onLocal.map((n: any) => n.id)).toEqual([...local].reverse());
    expect(new Set(onLocal.map((n: any) => n.provider))).toEqual(new Set(['LOCAL']));
    const onSegmind = await byProvider({ provider: ['SEGMIND'] });
    expect(onSegmind.map((n: any) => n.id).sort()).toEqual(created.map((j) => j.id).sort());
    expect(await byProvider({ provider: ['SEGMIND', 'LOCAL'] })).toHaveLength(created.length + local.length);
    expect((await byProvider({ provider: [] })).length).toBe(created.length + local.length);
    expect((await byProvider({ provider: ['LOCAL'], model: ['FACESWAP_V3_MULTI'] })).map((n: any) => n.id)).toEqual([local[1]]);

    // deleteJobs takes the same filter: a provider that is none is refused there too, deleting nothing.
    const bad = await t.gql(PROVIDERS, { filter: { provider: ['REPLICATE'] } });
    expect(bad.data).toBeUndefined();
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toMatch(/REPLICATE.*Provider|Provider.*REPLICATE/);
    const inline = await t.gql(`{ jobs(filter: { provider: [local] }) { edges { cursor } } }`);
    expect(inline.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(inline.errors?.[0]?.message).toMatch(/Provider/);
    const badDelete = await t.gql(`mutation($filter: JobFilter!) { deleteJobs(filter: $filter) { __typename } }`, { filter: { provider: ['REPLICATE'] } });
    expect(badDelete.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await byProvider({})).toHaveLength(created.length + local.length);
  });

  it('caps first at 100', async () => {
    const res = await t.gql(PAGE, { first: 101 });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', rule: 'range' });
  });
});
