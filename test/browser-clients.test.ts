// What a browser app or a GraphQL client library needs (README "Browser apps and
// client libraries"): GET queries without CSRF headers (the API reads only a bearer
// header), CORS for the origins in CORS_ORIGINS, and an interface whose fields
// mean the same in every implementation.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';

const APP_ORIGIN = 'https://app.example.com';
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false, env: { CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173` } });
  const created = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
  expect(created.errors).toBeUndefined();
});
afterAll(async () => {
  await t?.close();
});

describe('GET queries', () => {
  it("are answered without CSRF headers, as urql's default client sends them", async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ jobs(first: 1) { edges { node { id } } } }')}`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).data.jobs.edges).toHaveLength(1);
    // A key's own data: no shared cache on the way may keep it.
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('answers to mutations and to errors are not for caches either', async () => {
    const mutation = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation { cancelJob(id: "x") { __typename } }' }),
    });
    expect(mutation.status).toBe(200);
    expect(mutation.headers.get('cache-control')).toBe('no-store');
    const invalid = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ nope }')}`, { headers: { authorization: `Bearer ${t.key}` } });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('cache-control')).toBe('no-store');
  });

  it('still run no mutation', async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('mutation { cancelJob(id: "x") { __typename } }')}`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    expect(res.status).toBe(405);
  });
});

describe('CORS', () => {
  function preflight(origin: string) {
    return fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
  }

  it('a preflight from a listed origin is answered 204 with the origin, methods and headers allowed', async () => {
    const res = await preflight(APP_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('a request from a listed origin gets Access-Control-Allow-Origin for it; other origins get none', async () => {
    const post = (origin: string) => fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const listed = await post('http://localhost:5173');
    expect(listed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(listed.headers.get('vary')).toMatch(/origin/i);
    const other = await post('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refusals carry the header too, so the app can read them', async () => {
    const res = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { origin: APP_ORIGIN, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  });

  it('CORS_ORIGINS must list origins', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS must list origins/);
    expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrow(/CORS_ORIGINS/);
  });
});

describe('the SwapJob interface', () => {
  it('seed can be selected on the interface and on an implementation in one query', async () => {
    const res = await t.gql('{ jobs(first: 1) { edges { node { seed ... on FaceswapV4Job { seed } ... on FaceswapComicJob { seed } } } } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.jobs.edges[0].node.seed).toEqual(expect.any(Number));
  });

  it('possibleTypes.json (npm run schema:possible-types) lists every implementation', () => {
    const possibleTypes = JSON.parse(readFileSync(new URL('../possible-types.json', import.meta.url), 'utf8'));
    expect(possibleTypes.SwapJob.sort()).toEqual(['BodySwapJob', 'FaceswapComicJob', 'FaceswapV2Job', 'FaceswapV3MultiJob', 'FaceswapV4Job']);
    expect(possibleTypes.Node).toEqual(expect.arrayContaining(['FaceswapV4Job', 'WebhookEndpoint']));
  });
});
