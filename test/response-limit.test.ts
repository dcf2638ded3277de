// A response is bounded (src/server/response-limit.ts): past MAX_RESPONSE_BYTES the
// client gets one typed RESPONSE_TOO_LARGE error with the limit and the size instead
// of the body, over HTTP and graphql-ws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { startTestApp, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';

const MAX = 2048;
let t: TestApp;
let jobId: string;
beforeAll(async () => {
  t = await startTestApp({ worker: false, env: { MAX_RESPONSE_BYTES: String(MAX) } });
  for (let i = 0; i < 4; i++) {
    const created = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
    jobId = created.data.result.id;
  }
});
afterAll(async () => {
  await t?.close();
});

// Every job's full parameters, several times over: well past 2 KB for four jobs.
const LARGE = '{ jobs { edges { node { id a: parameters b: parameters c: parameters } } } }';
const SMALL = '{ jobs(first: 1) { edges { node { id } } } }';

function expectTooLarge(error: any): void {
  expect(error.extensions).toEqual({ code: 'RESPONSE_TOO_LARGE', limit: 'responseBytes', max: MAX, actual: expect.any(Number) });
  expect(error.extensions.actual).toBeGreaterThan(MAX);
  expect(error.message).toContain(`the limit is ${MAX} bytes (MAX_RESPONSE_BYTES)`);
}

function firstResult(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    const stop = client.subscribe({ query, variables }, {
      next: (msg) => {
        stop();
        resolve(msg);
      },
      error: reject,
      complete: () => {},
    });
  });
}

describe('over HTTP', () => {
  it('a response past the limit is one typed error instead of the body', async () => {
    const res = await t.gql(LARGE);
    expect(res.data).toBeUndefined();
    expect(res.errors).toHaveLength(1);
    expectTooLarge(res.errors![0]);
  });

  it('a response within it is sent as it is', async () => {
    const res = await t.gql(SMALL);
    expect(res.errors).toBeUndefined();
    expect(res.data.jobs.edges).toHaveLength(1);
  });
});

describe('over graphql-ws', () => {
  it('an operation result past the limit is the typed error; one within it is sent', async () => {
    const client = t.wsClient();
    const large = await firstResult(client, LARGE);
    expect(large.data).toBeUndefined();
    expectTooLarge(large.errors[0]);
    const small = await firstResult(client, SMALL);
    expect(small.data.jobs.edges).toHaveLength(1);
  });

  it('so is a subscription event', async () => {
    const event = await firstResult(
      t.wsClient(),
      `subscription($id: ID!) { jobUpdated(id: $id) { status job { ${Array.from({ length: 12 }, (_, i) => `p${i}: parameters`).join(' ')} } } }`,
      { id: jobId },
    );
    expectTooLarge(event.errors[0]);
  });
});
