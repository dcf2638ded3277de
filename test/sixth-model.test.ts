// A model is its spec: a sixth model defined in test code (support/sixth-model.ts),
// registered like the five built-in ones, gets its GraphQL types, validation,
// price and history with no other file touched.
import { sixthModel } from './support/sixth-model.js';
import { printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { TINY_PNG_BASE64 } from './support/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  // No worker: the job stays QUEUED, which is all its history needs (the emulator knows only the vendor's models).
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

const CREATE = `mutation($input: CreateTestSixthJobInput!) {
  createTestSixthJob(input: $input) {
    __typename
    ... on TestSixthJob { id model status strength parameters cost { estimated { usd } } }
    ... on InvalidInputError { field rule }
  }
}`;

describe('a sixth model from its spec alone', () => {
  it('has its job type, input, result union, create mutation and JobModel value', () => {
    const sdl = printSchema(schema);
    expect(sdl).toContain('type TestSixthJob implements Node & SwapJob');
    expect(sdl).toContain('input CreateTestSixthJobInput');
    expect(sdl).toMatch(/union TestSixthResult = .*TestSixthJob/);
    expect(sdl).toMatch(/createTestSixthJob\(input: CreateTestSixthJobInput!\): TestSixthResult!/);
    expect(sdl).toMatch(/enum JobModel \{[^}]*TEST_SIXTH/);
    expect(sixthModel.key).toBe('TEST_SIXTH');
  });

  it('validates its parameters by the spec and creates nothing on a broken rule', async () => {
    const bad = await t.gql(CREATE, { input: { faceImage: TINY_PNG_BASE64, strength: 12 } });
    expect(bad.errors).toBeUndefined();
    expect(bad.data.createTestSixthJob).toEqual({ __typename: 'InvalidInputError', field: 'input.strength', rule: 'range' });
    const list = await t.gql(`{ jobs(filter: { model: [TEST_SIXTH] }) { edges { node { id } } } }`);
    expect(list.data.jobs.edges).toEqual([]);
  });

  it('is priced from its spec and shows in history, filtered by its model', async () => {
    const created = await t.gql(CREATE, { input: { faceImage: TINY_PNG_BASE64 } });
    expect(created.errors).toBeUndefined();
    const job = created.data.createTestSixthJob;
    expect(job).toMatchObject({ __typename: 'TestSixthJob', model: 'TEST_SIXTH', status: 'QUEUED', strength: 5, cost: { estimated: { usd: '0.123' } } });
    expect(job.parameters.strength).toBe(5);
    const list = await t.gql(`{ jobs(filter: { model: [TEST_SIXTH] }) { edges { node { __typename id model } } } }`);
    expect(list.data.jobs.edges).toEqual([{ node: { __typename: 'TestSixthJob', id: job.id, model: 'TEST_SIXTH' } }]);
    const read = await t.gql(`query($id: ID!) { job(id: $id) { __typename ... on TestSixthJob { strength } } }`, { id: job.id });
    expect(read.data.job).toEqual({ __typename: 'TestSixthJob', strength: 5 });
  });
});
