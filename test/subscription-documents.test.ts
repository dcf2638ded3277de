// What a subscriber sees when its document is wrong, over a real graphql-ws
// connection. The server parses and validates each distinct query text once and
// shares the document between the subscriptions that send it
// (src/server/subscription-documents.ts); these answers must be what graphql-ws
// itself gives when it parses and validates each subscribe message on its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError, parse, validate } from 'graphql';
import { schema } from '../src/schema/index.js';
import { subscriptionDocuments } from '../src/server/subscription-documents.js';
import { collect, startTestApp, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { PATIENCE_MS, waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

/** Subscribes and reports how the subscription ended: its error (GraphQL errors or the close event), or a timeout. */
async function outcome(query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  const client = t.wsClient();
  const events: unknown[] = [];
  return new Promise<unknown>((resolve) => {
    const timer = setTimeout(() => resolve({ timedOut: true, events }), PATIENCE_MS);
    client.subscribe({ query, variables, operationName }, {
      next: (msg) => events.push(msg),
      error: (err) => {
        clearTimeout(timer);
        const close = err as { code?: number; reason?: string };
        resolve(Array.isArray(err) ? { errors: err, events } : { close: { code: close.code, reason: close.reason }, events });
      },
      complete: () => {
        clearTimeout(timer);
        resolve({ complete: true, events });
      },
    });
  });
}

const createV4 = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');

describe('subscription documents', () => {
  const INVALID = `subscription { jobsUpdated { status nope } }`;

  it('a document that fails validation gets the validation errors, the same each time it is sent', async () => {
    const expected = {
      errors: [{ message: 'Cannot query field "nope" on type "JobEvent".', locations: [{ line: 1, column: 37 }] }],
      events: [],
    };
    expect(await outcome(INVALID)).toEqual(expected);
    expect(await outcome(INVALID)).toEqual(expected);
  });

  it('a document that does not parse closes the connection with 4500 and the syntax error', async () => {
    const expected = { close: { code: 4500, reason: 'Syntax Error: Expected Name, found <EOF>.' }, events: [] };
    expect(await outcome(`subscription { jobsUpdated { status }`)).toEqual(expected);
    expect(await outcome(`subscription { jobsUpdated { status }`)).toEqual(expected);
  });

  it('an operation name the document does not define is refused; a named one runs', async () => {
    const doc = `subscription A { jobsUpdated { status } } subscription B { jobsUpdated { cursor status } }`;
    const refused = { errors: [{ message: 'Unable to identify operation' }], events: [] };
    expect(await outcome(doc, {}, 'C')).toEqual(refused);
    expect(await outcome(doc)).toEqual(refused);
    const base = t.app.events.subscriberCount();
    const b = collect(t.wsClient(), doc, {}, (events) => events.length >= 1, PATIENCE_MS, 'B');
    await waitUntil(() => t.app.events.subscriberCount() === base + 1, () => `subscribers: ${t.app.events.subscriberCount()}`);
    await t.gql(createV4, { input: MODEL_CASES[0].input });
    const seen = (await b.finished) as { jobsUpdated: Record<string, unknown> }[];
    expect(Object.keys(seen[0]!.jobsUpdated)).toEqual(['cursor', 'status']);
  });

  it('variables that do not fit the document: one result with the coercion error, then complete', async () => {
    const res = (await outcome(`subscription($s: [JobStatus!]) { jobsUpdated(filter: { status: $s }) { status } }`, { s: ['NOPE'] })) as any;
    expect(res.complete).toBe(true);
    expect(res.events).toHaveLength(1);
    expect(res.events[0].errors[0].message).toMatch(/^Variable "\$s" got invalid value "NOPE" at "s\[0\]"; Value "NOPE" does not exist in "JobStatus" enum/);
  });

  it('a query sent over the socket is executed once and completes', async () => {
    expect(await outcome(`{ __typename }`)).toEqual({ complete: true, events: [{ data: { __typename: 'Query' } }] });
  });
});

describe('subscriptionDocuments', () => {
  const A = `subscription { jobsUpdated { status } }`;
  const B = `subscription { jobsUpdated { cursor } }`;

  it('one document per distinct text: the same text gets the same object', () => {
    const documents = subscriptionDocuments(schema);
    const a = documents(A);
    expect(a).toHaveProperty('kind', 'Document');
    expect(documents(A)).toBe(a);
    expect(documents(` ${A}`)).not.toBe(a);
    expect(documents(B)).not.toBe(a);
  });

  it('invalid texts are answered as parse and validate answer them, and not kept', () => {
    const documents = subscriptionDocuments(schema);
    const invalid = `subscription { jobsUpdated { nope } }`;
    const errors = documents(invalid);
    expect(Array.isArray(errors)).toBe(true);
    expect((errors as GraphQLError[]).map((e) => e.toJSON())).toEqual(validate(schema, parse(invalid)).map((e) => e.toJSON()));
    expect(documents(invalid)).not.toBe(errors);
    expect(() => documents(`subscription {`)).toThrow(GraphQLError);
    expect(() => documents(`subscription {`)).toThrow('Syntax Error: Expected Name, found <EOF>.');
  });

  it('keeps at most `max` texts, dropping the least recently used', () => {
    const documents = subscriptionDocuments(schema, 2);
    const a = documents(A);
    const b = documents(B);
    expect(documents(A)).toBe(a); // A is now the most recently used
    documents(`subscription { jobsUpdated { createdAt } }`); // evicts B
    expect(documents(A)).toBe(a);
    expect(documents(B)).not.toBe(b);
  });
});
