// Every operation is checked against the limits before it runs, over HTTP and
// graphql-ws alike (src/server/operation-limits.ts): going over gives one typed
// OPERATION_LIMIT_EXCEEDED error naming the limit, its value and the measure, and
// nothing runs. The defaults fit every query of the README and examples/.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { loadConfig } from '../src/config.js';
import { schema } from '../src/schema/index.js';
import { parseWithinLimits } from '../src/server/operation-limits.js';
import { startTestApp, type GqlResponse, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';

// The measured attack: 143 bytes that made the API run out of heap.
const NESTED_143 = '{ jobs(first: 3) { edges { node { events { job { events { job { events { job { events { job { events { job { status } } } } } } } } } } } } } }';

let t: TestApp;
let small: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
  // Every limit is configurable: a second app with small ones.
  small = await startTestApp({
    worker: false,
    env: { MAX_QUERY_DEPTH: '3', MAX_QUERY_ALIASES: '2', MAX_QUERY_TOKENS: '40', MAX_QUERY_COST: '100', MAX_QUERY_DIRECTIVES: '1' },
  });
  const created = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
  expect(created.errors).toBeUndefined();
});
afterAll(async () => {
  await t?.close();
  await small?.close();
});

function expectLimit(res: GqlResponse, limit: string, max: number, actual: number): void {
  expect(res.status, JSON.stringify(res)).toBe(400);
  expect(res.data ?? null).toBeNull();
  expect(res.errors).toHaveLength(1);
  expect(res.errors![0]!.extensions).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED', limit, max, actual });
  expect(res.errors![0]!.message).toContain(`${limit} limit is ${max}`);
}

/** The first error of an operation sent over graphql-ws, or its data. */
function overWs(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<{ errors?: any[]; data?: unknown }> {
  return new Promise((resolve, reject) => {
    let data: unknown;
    client.subscribe({ query, variables }, {
      next: (msg) => (msg.errors ? resolve({ errors: msg.errors as any[] }) : (data = msg.data)),
      error: (err) => (Array.isArray(err) ? resolve({ errors: err }) : reject(err)),
      complete: () => resolve({ data }),
    });
  });
}

describe('over HTTP', () => {
  it('a text that passed is not checked again, unless its variables can change its measure (first/last)', async () => {
    // Same text, new variables each time, as clients send creates: the pass is remembered.
    const create = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
    for (let i = 0; i < 3; i++) expect((await t.gql(create, { input: MODEL_CASES[0].input })).errors).toBeUndefined();
    // A page size from a variable: passing with 1 says nothing of 100 (cost 22,301).
    const paged = `query($n: Int) { jobs(first: $n) { edges { node { events { job { events { job { id } } } } } } } }`;
    expect((await t.gql(paged, { n: 1 })).errors).toBeUndefined();
    expectLimit(await t.gql(paged, { n: 100 }), 'cost', 10_000, 22_301);
    expect((await t.gql(paged, { n: 1 })).errors).toBeUndefined();
  });

  it('the 143-byte nested query is refused at once by its depth, and the service keeps answering', async () => {
    expect(Buffer.byteLength(NESTED_143)).toBe(143);
    const started = performance.now();
    const res = await t.gql(NESTED_143);
    const ms = performance.now() - started;
    expectLimit(res, 'depth', 10, 14);
    console.log(`143-byte query refused in ${ms.toFixed(1)} ms`);
    const after = await t.gql('{ jobs(first: 1) { edges { node { id status } } } }');
    expect(after.errors).toBeUndefined();
    expect(after.data.jobs.edges).toHaveLength(1);
  });

  it('a rerunOf chain is stopped by the depth limit, not by the database', async () => {
    let selection = 'id';
    for (let i = 0; i < 63; i++) selection = `rerunOf { ${selection} }`;
    expectLimit(await t.gql(`{ jobs(first: 1) { edges { node { ${selection} } } } }`), 'depth', 10, 67);
  });

  it('200 aliases of jobs(first: 100) are refused by their count; __typename aliases count too', async () => {
    const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
    expectLimit(await t.gql(aliases(31, 'jobs(first: 100) { edges { node { id } } }')), 'aliases', 30, 31);
    expectLimit(await t.gql(aliases(31, '__typename')), 'aliases', 30, 31);
    expect((await t.gql(aliases(30, '__typename'))).errors).toBeUndefined();
  });

  it('a 3.9 MB query of 200k aliases is refused by its tokens before it is parsed', async () => {
    const huge = `{ ${Array.from({ length: 200_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect(huge.length).toBeGreaterThan(3_500_000);
    expectLimit(await t.gql(huge), 'tokens', 2000, 2001);
  });

  it('cost multiplies a list by its page size, from variables too', async () => {
    // jobs: 1 + first × (edges: 1 + cursor: 1) = 1 + 2 × first; the small app allows 100.
    expect((await small.gql('{ jobs(first: 49) { edges { cursor } } }')).errors).toBeUndefined();
    expectLimit(await small.gql('{ jobs(first: 50) { edges { cursor } } }'), 'cost', 100, 101);
    const byVariable = 'query($n: Int) { jobs(first: $n) { edges { cursor } } }';
    expect((await small.gql(byVariable, { n: 49 })).errors).toBeUndefined();
    expectLimit(await small.gql(byVariable, { n: 50 }), 'cost', 100, 101);
    // Without first/last a page counts as 20: 1 + 2 × 20.
    expect((await small.gql('{ jobs { edges { cursor } } }')).errors).toBeUndefined();
    // A list without paging counts as 10 items: events under a page of 100 jobs.
    // events: 1 + 10 × (job: 1 + events: 1 + 10 × status: 1) = 121; node: 122; edges: 123; jobs: 1 + 100 × 123.
    const costly = 'query($n: Int) { jobs(first: $n) { edges { node { events { job { events { status } } } } } } }';
    expectLimit(await t.gql(costly, { n: 100 }), 'cost', 10_000, 12_301);
    expect((await t.gql(costly, { n: 50 })).errors).toBeUndefined();
  });

  it('every limit is configurable', async () => {
    expectLimit(await small.gql('{ jobs { edges { node { id } } } }'), 'depth', 3, 4);
    expectLimit(await small.gql('{ a: __typename b: __typename c: __typename }'), 'aliases', 2, 3);
    expectLimit(await small.gql('{ __typename @include(if: true) __typename @skip(if: false) }'), 'directives', 1, 2);
    expectLimit(await small.gql(`{ ${'__typename '.repeat(40)}}`), 'tokens', 40, 41);
  });

  it('directives are counted', async () => {
    const many = `{ ${Array.from({ length: 51 }, () => '__typename @include(if: true)').join(' ')} }`;
    expectLimit(await t.gql(many), 'directives', 50, 51);
  });

  it('a persisted query sent by its hash alone is checked with its variables too', async () => {
    const query = 'query($n: Int) { jobs(first: $n) { edges { node { events { job { events { status } } } } } } }';
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
    const send = async (body: object) => {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
        body: JSON.stringify(body),
      });
      return { ...((await res.json()) as object), status: res.status } as GqlResponse;
    };
    // Registered with its text (checked by the HTTP handler), within the limits.
    expect((await send({ query, variables: { n: 5 }, extensions: { persistedQuery } })).errors).toBeUndefined();
    expect((await send({ variables: { n: 5 }, extensions: { persistedQuery } })).errors).toBeUndefined();
    expectLimit(await send({ variables: { n: 100 }, extensions: { persistedQuery } }), 'cost', 10_000, 12_301);
  });

  it('GET queries are checked the same way', async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent(NESTED_143)}`, { headers: { authorization: `Bearer ${t.key}` } });
    expectLimit({ ...((await res.json()) as object), status: res.status }, 'depth', 10, 14);
  });
});

describe('over graphql-ws', () => {
  it('a subscription over the depth limit gets the typed error, and the socket stays usable', async () => {
    const client = t.wsClient();
    const deep = 'subscription { jobsUpdated { job { events { job { events { job { events { job { events { job { status } } } } } } } } } } }';
    const res = await overWs(client, deep);
    expect(res.errors).toEqual([expect.objectContaining({ extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'depth', max: 10, actual: 11 } })]);
    const ok = await overWs(client, '{ jobs(first: 1) { edges { node { id } } } }');
    expect(ok.errors).toBeUndefined();
  });

  it('the 143-byte query, aliases, tokens and cost from variables are refused as over HTTP', async () => {
    const client = t.wsClient();
    const limitOf = async (query: string, variables?: Record<string, unknown>) => (await overWs(client, query, variables)).errors?.[0]?.extensions;
    expect(await limitOf(NESTED_143)).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED', limit: 'depth', max: 10, actual: 14 });
    expect(await limitOf(`{ ${Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ')} }`)).toMatchObject({ limit: 'aliases', actual: 31 });
    expect(await limitOf(`{ ${'__typename '.repeat(2001)}}`)).toMatchObject({ limit: 'tokens', actual: 2001 });
    const costly = 'query($n: Int) { jobs(first: $n) { edges { node { events { job { events { status } } } } } } }';
    expect(await limitOf(costly, { n: 100 })).toMatchObject({ limit: 'cost', actual: 12_301 });
    // The same text within the limit with other variables (the document is cached; the cost is not).
    expect(await limitOf(costly, { n: 5 })).toBeUndefined();
  });
});

describe('the defaults', () => {
  const limits = loadConfig({}).operations;
  const root = new URL('..', import.meta.url);
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const fromReadme = [...readme.matchAll(/'(\{"query":.*?\})'/g)].map((m) => JSON.parse(m[1]!).query as string);
  const fromExamples = readdirSync(new URL('examples/', root)).flatMap((f) =>
    [...readFileSync(new URL(`examples/${f}`, root), 'utf8').matchAll(/`((?:query|mutation|subscription)\b[^`]*)`/g)].map((m) => m[1]!));

  it('fit every query of the README and examples/', () => {
    expect(fromReadme.length).toBeGreaterThanOrEqual(8);
    expect(fromExamples.length).toBeGreaterThanOrEqual(4);
    for (const query of [...fromReadme, ...fromExamples]) {
      const checked = parseWithinLimits(schema, query, { variables: {} }, limits);
      expect(checked, query).toHaveProperty('kind', 'Document');
    }
  });
});
