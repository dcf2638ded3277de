// Bad input, end to end over real HTTP and WebSocket: every malformed request
// gets a typed error that names the field and the rule it broke, and nothing
// is stored (no job row, no job event) and nothing is sent upstream.
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startTestApp, waitForFinal, type GqlResponse, type TestApp } from './support/app.js';
import { MODELS } from '../src/models/registry.js';
import { createMutation, inputTypeOf, MODEL_CASES, SOURCE_URL, TARGET_URL, TINY_PNG_BASE64 } from './support/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

type Mutation = (typeof MODEL_CASES)[number]['mutation'];
const BASE: Record<Mutation, Record<string, unknown>> = Object.fromEntries(MODEL_CASES.map((c) => [c.mutation, c.input])) as never;

function create(mutation: Mutation, input: Record<string, unknown>, app: TestApp = t): Promise<GqlResponse> {
  return app.gql(createMutation(mutation, inputTypeOf(mutation)), { input });
}

interface Stored {
  jobs: number;
  events: number;
  upstreamAttempts: number;
}

async function stored(app: TestApp): Promise<Stored> {
  const count = async (table: string) =>
    (await app.app.db.pool.query<{ n: number }>(`select count(*)::int n from ${table}`)).rows[0]!.n;
  return { jobs: await count('jobs'), events: await count('job_events'), upstreamAttempts: app.emulator.stats().attempts.total };
}

/** Runs `fn` and asserts it stored no job, no job event, and sent nothing upstream. */
async function storesNothing<T>(fn: () => Promise<T>, app: TestApp = t): Promise<T> {
  const before = await stored(app);
  const result = await fn();
  expect(await stored(app), 'the bad request stored or sent something').toEqual(before);
  return result;
}

/** A create mutation that must answer InvalidInputError with exactly these violations, and store nothing. */
async function expectViolations(
  mutation: Mutation,
  input: Record<string, unknown>,
  expected: { field: string; rule: string }[],
  app: TestApp = t,
): Promise<void> {
  const res = await storesNothing(() => create(mutation, input, app), app);
  expect(res.status).toBe(200);
  expect(res.errors).toBeUndefined();
  const result = res.data.result;
  expect(result.__typename, JSON.stringify(result)).toBe('InvalidInputError');
  expect(result.field).toBe(expected[0]!.field);
  expect(result.rule).toBe(expected[0]!.rule);
  expect(result.violations.map((v: { field: string; rule: string }) => ({ field: v.field, rule: v.rule }))).toEqual(expected);
  for (const v of result.violations) {
    // Each message names the parameter it is about, and the summary names every field.
    expect(v.message).toContain(v.field.replace(/^input\./, ''));
    expect(result.message).toContain(v.field);
  }
}

/** A request-level GraphQL error: asserts the extensions name the field and the rule. */
function expectGraphQLError(res: GqlResponse, code: string, field: string, rule: string): void {
  expect(res.errors, JSON.stringify(res)).toBeDefined();
  expect(res.errors![0]!.extensions).toMatchObject({ code, field, rule });
  expect(res.errors![0]!.message).toContain(field);
}

/** A request rejected before execution (validation or variable coercion): HTTP 400 and a message naming what is wrong. */
function expectRejected(res: GqlResponse, ...mentions: string[]): void {
  expect(res.status, JSON.stringify(res)).toBe(400);
  expect(res.errors?.length).toBeGreaterThan(0);
  expect(res.data ?? null).toBeNull();
  const text = res.errors!.map((e) => e.message).join('\n');
  for (const m of mentions) expect(text).toContain(m);
}

function globalId(typename: string, id: string): string {
  return Buffer.from(`${typename}:${id}`).toString('base64');
}

describe('numbers out of range', () => {
  const cases: { mutation: Mutation; name: string; value: number }[] = [
    { mutation: 'createFaceswapV4Job', name: 'imageQuality', value: 9 },
    { mutation: 'createFaceswapV4Job', name: 'imageQuality', value: 101 },
    { mutation: 'createFaceswapV4Job', name: 'seed', value: -1 },
    { mutation: 'createFaceswapV3MultiJob', name: 'imageQuality', value: 9 },
    { mutation: 'createFaceswapV3MultiJob', name: 'imageQuality', value: 101 },
    { mutation: 'createFaceswapV3MultiJob', name: 'faceRestoreWeight', value: 1.5 },
    { mutation: 'createFaceswapV3MultiJob', name: 'faceRestoreWeight', value: -0.01 },
    { mutation: 'createFaceswapComicJob', name: 'cfg', value: 0.05 },
    { mutation: 'createFaceswapComicJob', name: 'cfg', value: 10.5 },
    { mutation: 'createFaceswapComicJob', name: 'steps', value: 0 },
    { mutation: 'createFaceswapComicJob', name: 'steps', value: 51 },
    { mutation: 'createFaceswapComicJob', name: 'styleStrength', value: 2.1 },
    { mutation: 'createFaceswapComicJob', name: 'faceStrength', value: -0.1 },
    { mutation: 'createFaceswapComicJob', name: 'faceStrength', value: 1.01 },
    { mutation: 'createFaceswapComicJob', name: 'growMask', value: 101 },
    { mutation: 'createFaceswapComicJob', name: 'growMask', value: -1 },
    { mutation: 'createFaceswapComicJob', name: 'outputQuality', value: 0 },
    { mutation: 'createFaceswapComicJob', name: 'outputQuality', value: 101 },
    { mutation: 'createFaceswapComicJob', name: 'seed', value: -1 },
  ];
  it.each(cases)('$mutation $name = $value → range', async ({ mutation, name, value }) => {
    await expectViolations(mutation, { ...BASE[mutation], [name]: value }, [{ field: `input.${name}`, rule: 'range' }]);
  });

  it('a seed beyond 32 bits is refused by GraphQL Int coercion, naming the field', async () => {
    const res = await storesNothing(() => create('createFaceswapV4Job', { ...BASE.createFaceswapV4Job, seed: 2 ** 31 }));
    expectRejected(res, 'seed');
  });
});

describe('several violations at once', () => {
  it('reports every broken rule of one input together, in parameter order', async () => {
    await expectViolations(
      'createFaceswapV4Job',
      { sourceImage: '', targetImage: 'ftp://x/y.png', seed: -1, imageQuality: 101 },
      [
        { field: 'input.sourceImage', rule: 'not-empty' },
        { field: 'input.targetImage', rule: 'image-uri' },
        { field: 'input.seed', rule: 'range' },
        { field: 'input.imageQuality', rule: 'range' },
      ],
    );
  });

  it('mixes range, max-length and image rules on the comic model', async () => {
    await expectViolations(
      'createFaceswapComicJob',
      {
        sourceImage: SOURCE_URL, targetImage: 'http://', faceStrength: -0.1, styleStrength: 2.1, steps: 51,
        cfg: 0.05, prompt: 'x'.repeat(2001), maskImage: 'not an image', growMask: 101, outputQuality: 0,
      },
      [
        { field: 'input.targetImage', rule: 'image-uri' },
        { field: 'input.faceStrength', rule: 'range' },
        { field: 'input.styleStrength', rule: 'range' },
        { field: 'input.steps', rule: 'range' },
        { field: 'input.cfg', rule: 'range' },
        { field: 'input.prompt', rule: 'max-length' },
        { field: 'input.maskImage', rule: 'image-uri' },
        { field: 'input.growMask', rule: 'range' },
        { field: 'input.outputQuality', rule: 'range' },
      ],
    );
  });

  it('reports face index lists of v3 together', async () => {
    await expectViolations(
      'createFaceswapV3MultiJob',
      { ...BASE.createFaceswapV3MultiJob, inputFacesIndex: 'a', sourceFacesIndex: '-1', faceRestoreWeight: 1.5 },
      [
        { field: 'input.inputFacesIndex', rule: 'face-index-list' },
        { field: 'input.sourceFacesIndex', rule: 'face-index-list' },
        { field: 'input.faceRestoreWeight', rule: 'range' },
      ],
    );
  });
});

describe('enums', () => {
  it('an unknown enum value in variables is a GraphQL error naming the enum and the field', async () => {
    const res = await storesNothing(() => create('createFaceswapV4Job', { ...BASE.createFaceswapV4Job, swapType: 'NECK' }));
    expectRejected(res, 'FaceswapV4SwapType', 'swapType', 'NECK');
  });

  it('the wire string is not an enum value either', async () => {
    const res = await storesNothing(() => create('createFaceswapV3MultiJob', { ...BASE.createFaceswapV3MultiJob, imageFormat: 'png' }));
    expectRejected(res, 'ImageFormat', 'imageFormat');
  });

  it('an unknown enum literal in the document fails validation', async () => {
    const res = await storesNothing(() =>
      t.gql(`mutation { createFaceswapV4Job(input: { sourceImage: "${SOURCE_URL}", targetImage: "${TARGET_URL}", modelType: TURBO }) { __typename } }`),
    );
    expectRejected(res, 'FaceswapV4ModelType', 'TURBO');
    expect(res.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('images', () => {
  const notAnImage = Buffer.from('this is plain text, certainly not an image').toString('base64');
  const bad: { label: string; value: string; rule: string }[] = [
    { label: 'empty', value: '', rule: 'not-empty' },
    { label: 'spaces', value: '   ', rule: 'not-empty' },
    { label: 'tabs and newlines', value: '\t\n ', rule: 'not-empty' },
    { label: 'words', value: 'not an image', rule: 'image-uri' },
    { label: 'ftp URL', value: 'ftp://x/y.png', rule: 'image-uri' },
    { label: 'text data URI', value: 'data:text/plain;base64,AAAA', rule: 'image-uri' },
    { label: 'image data URI without data', value: 'data:image/png;base64,', rule: 'image-uri' },
    { label: 'base64 of text', value: notAnImage, rule: 'image-format' },
    { label: 'image data URI of text', value: `data:image/png;base64,${notAnImage}`, rule: 'image-format' },
    { label: 'http:// without a host', value: 'http://', rule: 'image-uri' },
    { label: 'URL over 2048 characters', value: `https://example.com/${'a'.repeat(2100)}.png`, rule: 'max-length' },
  ];
  const fields: { mutation: Mutation; name: string }[] = [
    { mutation: 'createFaceswapV4Job', name: 'sourceImage' },
    { mutation: 'createFaceswapV2Job', name: 'targetImage' },
    { mutation: 'createFaceswapComicJob', name: 'maskImage' },
    { mutation: 'createBodySwapJob', name: 'characterImage' },
  ];
  const cases = fields.flatMap((f) => bad.map((b) => ({ ...f, ...b })));
  it.each(cases)('$mutation $name: $label → $rule', async ({ mutation, name, value, rule }) => {
    await expectViolations(mutation, { ...BASE[mutation], [name]: value }, [{ field: `input.${name}`, rule }]);
  });

  it('a missing required image is a GraphQL error naming the field (variables)', async () => {
    const res = await storesNothing(() => create('createFaceswapV4Job', { targetImage: TARGET_URL }));
    expectRejected(res, 'sourceImage');
  });

  it('a missing required image is a GraphQL error naming the field (literal)', async () => {
    const res = await storesNothing(() =>
      t.gql(`mutation { createFaceswapComicJob(input: { targetImage: "${TARGET_URL}" }) { __typename } }`),
    );
    expectRejected(res, 'sourceImage');
    expect(res.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a null required image is a GraphQL error naming the field', async () => {
    const res = await storesNothing(() => create('createFaceswapV2Job', { sourceImage: null, targetImage: TINY_PNG_BASE64 }));
    expectRejected(res, 'sourceImage');
  });
});

describe('image URLs with credentials (user:pass@)', () => {
  // Such a URL would be stored, shown back in job.parameters and sent to the
  // provider: refused for every image field of every model, nothing created.
  const fields = MODELS.flatMap((spec) => {
    const mutation = MODEL_CASES.find((c) => c.model === spec.key)!.mutation;
    return spec.params.filter((p) => p.kind === 'image').map((p) => ({ mutation, name: p.name }));
  });
  const urls = [
    ['user and password', 'https://user:s3cret-pw@images.example.com/face.png'],
    ['a user (token) only', 'https://s3cret-token@images.example.com/face.png'],
    ['a password only', 'http://:s3cret-pw@images.example.com/face.png'],
  ];
  const cases = fields.flatMap((f) => urls.map(([label, value]) => ({ ...f, label: label!, value: value! })));

  it('covers every image field of every model', () => {
    expect(fields.length).toBe(MODELS.reduce((n, spec) => n + spec.params.filter((p) => p.kind === 'image').length, 0));
    expect(fields.length).toBeGreaterThanOrEqual(11);
  });

  it.each(cases)('$mutation $name with $label → no-credentials, not echoed', async ({ mutation, name, value }) => {
    await expectViolations(mutation, { ...BASE[mutation], [name]: value }, [{ field: `input.${name}`, rule: 'no-credentials' }]);
    const res = await create(mutation, { ...BASE[mutation], [name]: value });
    expect(JSON.stringify(res)).not.toContain('s3cret');
  });
});

describe('face index lists and strings', () => {
  const lists = ['a', '0,,1', '-1', '1000', '', ',0', '0,', '1.5', Array.from({ length: 33 }, (_, i) => i).join(',')];
  const fields: { mutation: Mutation; name: string }[] = [
    { mutation: 'createFaceswapV3MultiJob', name: 'inputFacesIndex' },
    { mutation: 'createFaceswapV3MultiJob', name: 'sourceFacesIndex' },
    { mutation: 'createFaceswapV2Job', name: 'inputFacesIndex' },
    { mutation: 'createFaceswapV2Job', name: 'sourceFacesIndex' },
  ];
  const cases = fields.flatMap((f) => lists.map((value) => ({ ...f, value })));
  it.each(cases)('$mutation $name = "$value" → face-index-list', async ({ mutation, name, value }) => {
    await expectViolations(mutation, { ...BASE[mutation], [name]: value }, [{ field: `input.${name}`, rule: 'face-index-list' }]);
  });

  it('a prompt over 2000 characters → max-length', async () => {
    await expectViolations('createFaceswapComicJob', { ...BASE.createFaceswapComicJob, prompt: 'é'.repeat(2001) }, [
      { field: 'input.prompt', rule: 'max-length' },
    ]);
  });

  it('a body-swap selectCharacter over 200 characters → max-length', async () => {
    await expectViolations('createBodySwapJob', { selectCharacter: 'w'.repeat(201) }, [
      { field: 'input.selectCharacter', rule: 'max-length' },
    ]);
  });
});

describe('request bodies', () => {
  it('invalid JSON → HTTP 400 naming the body and the json rule', async () => {
    const res = await storesNothing(() =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
        body: '{"query": "mutation { createBodySwapJob(input: {}) { __typename } }"',
      }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as GqlResponse;
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_REQUEST', field: 'body', rule: 'json' });
  });

  it('a JSON body without a query → HTTP 400', async () => {
    const res = await storesNothing(() =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
        body: '{"variables": {}}',
      }),
    );
    expect(res.status).toBe(400);
  });
});

describe('jobs connection arguments', () => {
  const jobs = (args: string, variables?: Record<string, unknown>, vars = '') =>
    storesNothing(() => t.gql(`query${vars} { jobs(${args}) { edges { cursor } pageInfo { hasNextPage } } }`, variables));

  it.each([
    { label: 'garbage after', args: 'after: "nope"', field: 'after' },
    { label: 'after of a well-formed base64 that is not a cursor', args: `after: "${Buffer.from('2026-01-01T00:00:00.000Z|not-a-uuid').toString('base64url')}"`, field: 'after' },
    { label: 'after with a non-canonical date', args: `after: "${Buffer.from(`2026-01-01|${randomUUID()}`).toString('base64url')}"`, field: 'after' },
    { label: 'garbage before (with last)', args: 'last: 5, before: "nope"', field: 'before' },
    { label: 'before with a trailing field', args: `last: 5, before: "${Buffer.from(`2026-01-01T00:00:00.000Z|${randomUUID()}|x`).toString('base64url')}"`, field: 'before' },
  ])('$label → BAD_USER_INPUT cursor', async ({ args, field }) => {
    const res = await jobs(args);
    expectGraphQLError(res, 'BAD_USER_INPUT', field, 'cursor');
    expect(res.data).toBeNull();
  });

  it.each([
    { args: 'first: 0', field: 'first', rule: 'range' },
    { args: 'first: -1', field: 'first', rule: 'range' },
    { args: 'first: 101', field: 'first', rule: 'range' },
    { args: 'last: 0', field: 'last', rule: 'range' },
    { args: 'last: 101', field: 'last', rule: 'range' },
    { args: 'first: 5, last: 5', field: 'last', rule: 'exclusive' },
    { args: 'last: 5, after: "nope"', field: 'after', rule: 'exclusive' },
    { args: 'before: "nope"', field: 'before', rule: 'exclusive' },
  ])('jobs($args) → $field $rule', async ({ args, field, rule }) => {
    expectGraphQLError(await jobs(args), 'BAD_USER_INPUT', field, rule);
  });

  it('the limits themselves are accepted', async () => {
    for (const args of ['first: 1', 'first: 100', 'last: 1', 'last: 100']) {
      const res = await jobs(args);
      expect(res.errors, args).toBeUndefined();
    }
  });

  it.each([
    { label: 'equal', after: '2026-01-01T00:00:00.000Z', before: '2026-01-01T00:00:00.000Z' },
    { label: 'reversed', after: '2026-06-01T00:00:00Z', before: '2026-01-01T00:00:00Z' },
  ])('createdAfter ≥ createdBefore ($label) → filter.createdBefore after-created-after', async ({ after, before }) => {
    const res = await jobs('filter: $filter', { filter: { createdAfter: after, createdBefore: before } }, '($filter: JobFilter)');
    expectGraphQLError(res, 'BAD_USER_INPUT', 'filter.createdBefore', 'after-created-after');
  });

  it.each(['yesterday', '2026-11-23', '2026-13-45T00:00:00Z', '', '1700000000'])(
    'a malformed DateTime "%s" in variables → 400 naming the field and the iso-8601 rule',
    async (value) => {
      const res = await jobs('filter: $filter', { filter: { createdAfter: value } }, '($filter: JobFilter)');
      expectRejected(res, 'createdAfter');
      expect(res.errors![0]!.extensions?.rule).toBe('iso-8601');
    },
  );

  it('a malformed DateTime literal fails validation naming the rule', async () => {
    const res = await jobs('filter: { createdBefore: "last tuesday" }');
    expectRejected(res, 'DateTime');
    expect(res.errors![0]!.extensions?.rule).toBe('iso-8601');
  });

  it('a DateTime given as a number fails too', async () => {
    const res = await jobs('filter: $filter', { filter: { createdBefore: 1700000000000 } }, '($filter: JobFilter)');
    expectRejected(res, 'createdBefore');
  });
});

describe('job ids', () => {
  const malformed = [
    'nope',
    '',
    globalId('User', randomUUID()),
    globalId('FaceswapV4Job', '123'),
    globalId('FaceswapV4Job', 'not-a-uuid'),
    globalId('SwapJob', randomUUID()),
    randomUUID(),
  ];

  it.each(malformed)('job(id: "%s") → BAD_USER_INPUT id global-id', async (id) => {
    const res = await storesNothing(() => t.gql(`query($id: ID!) { job(id: $id) { id } }`, { id }));
    expectGraphQLError(res, 'BAD_USER_INPUT', 'id', 'global-id');
    expect(res.data?.job ?? null).toBeNull();
  });

  it.each(malformed)('cancelJob(id: "%s") → InvalidInputError data on field id, rule global-id', async (id) => {
    const res = await storesNothing(() =>
      t.gql(
        `mutation($id: ID!) { cancelJob(id: $id) { __typename ... on InvalidInputError { field rule message violations { field rule } } } }`,
        { id },
      ),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.cancelJob).toMatchObject({
      __typename: 'InvalidInputError',
      field: 'id',
      rule: 'global-id',
      violations: [{ field: 'id', rule: 'global-id' }],
    });
  });

  it.each(['nope', globalId('FaceswapV4Job', 'not-a-uuid')])('jobUpdated(id: "%s") errors with BAD_USER_INPUT id global-id', async (id) => {
    const sub = collect(t.wsClient(), `subscription($id: ID!) { jobUpdated(id: $id) { status } }`, { id }, () => false);
    const err = await storesNothing(() => sub.finished.then(
      () => {
        throw new Error('the subscription completed without an error');
      },
      (e: { errors?: GqlResponse['errors'] }) => e,
    ));
    expect(err.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id', rule: 'global-id' });
    expect(sub.events).toEqual([]);
  });

  const unknown = globalId('FaceswapV4Job', randomUUID());

  it('job(unknown id) → NOT_FOUND naming the field id and the id given', async () => {
    const res = await storesNothing(() => t.gql(`query($id: ID!) { job(id: $id) { id } }`, { id: unknown }));
    expectGraphQLError(res, 'NOT_FOUND', 'id', 'exists');
    expect(res.errors![0]!.message).toContain(unknown);
    expect(res.data.job).toBeNull();
  });

  it('cancelJob(unknown id) → NotFoundError data with the id given', async () => {
    const res = await storesNothing(() =>
      t.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename ... on NotFoundError { id message } } }`, { id: unknown }),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.cancelJob).toMatchObject({ __typename: 'NotFoundError', id: unknown });
  });

  it('node(unknown id) → null, no error', async () => {
    for (const typename of ['FaceswapV4Job', 'FaceswapV2Job', 'BodySwapJob']) {
      const id = globalId(typename, randomUUID());
      const res = await storesNothing(() => t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }));
      expect(res.errors, typename).toBeUndefined();
      expect(res.data.node).toBeNull();
    }
  });

  it.each(['nope', '', globalId('User', randomUUID()), globalId('FaceswapV4Job', 'not-a-uuid')])(
    'node(id: "%s") → null or a typed global-id error, never an internal error',
    async (id) => {
      const res = await storesNothing(() => t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }));
      expect(res.data?.node ?? null).toBeNull();
      if (res.errors) expect(res.errors[0]!.extensions, JSON.stringify(res.errors)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id', rule: 'global-id' });
    },
  );

  it('jobUpdated(unknown id) errors with NOT_FOUND naming the field id and the id given', async () => {
    const sub = collect(t.wsClient(), `subscription($id: ID!) { jobUpdated(id: $id) { status } }`, { id: unknown }, () => false);
    const err = await sub.finished.then(
      () => {
        throw new Error('the subscription completed without an error');
      },
      (e: { errors?: GqlResponse['errors'] }) => e,
    );
    expect(err.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
    // The client only ever sees global ids; the error should quote the one it sent.
    expect(err.errors?.[0]?.message).toContain(unknown);
  });
});

describe('size limits (an app with MAX_IMAGE_BYTES=1024, MAX_BODY_BYTES=2048)', () => {
  let small: TestApp;
  let bigPng: Buffer;
  beforeAll(async () => {
    small = await startTestApp({ worker: false, env: { MAX_IMAGE_BYTES: '1024', MAX_BODY_BYTES: '2048' } });
    // Noise does not compress: an 18×18 RGB PNG is a little over 1 KiB.
    let state = 12345;
    const noise = Buffer.alloc(18 * 18 * 3, 0).map(() => (state = (state * 1103515245 + 12345) >>> 0) >>> 24);
    bigPng = await sharp(noise, { raw: { width: 18, height: 18, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  });
  afterAll(async () => {
    await small?.close();
  });

  it('an image over MAX_IMAGE_BYTES → max-bytes (base64 and data URI)', async () => {
    expect(bigPng.length).toBeGreaterThan(1024);
    const b64 = bigPng.toString('base64');
    // The request itself stays under the body limit, so it is the image rule that answers.
    expect(JSON.stringify({ query: createMutation('createFaceswapV4Job', inputTypeOf('createFaceswapV4Job')), variables: { input: { sourceImage: `data:image/png;base64,${b64}`, targetImage: TARGET_URL } } }).length).toBeLessThan(2048);
    await expectViolations('createFaceswapV4Job', { sourceImage: b64, targetImage: TARGET_URL }, [{ field: 'input.sourceImage', rule: 'max-bytes' }], small);
    await expectViolations('createFaceswapV2Job', { sourceImage: SOURCE_URL, targetImage: `data:image/png;base64,${b64}` }, [{ field: 'input.targetImage', rule: 'max-bytes' }], small);
  });

  it('a request over MAX_BODY_BYTES → HTTP 413 PAYLOAD_TOO_LARGE', async () => {
    const body = JSON.stringify({
      query: createMutation('createFaceswapComicJob', inputTypeOf('createFaceswapComicJob')),
      variables: { input: { ...BASE.createFaceswapComicJob, prompt: 'p'.repeat(1900) } },
    });
    expect(body.length).toBeGreaterThan(2048);
    const res = await storesNothing(
      () => fetch(`${small.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${small.key}` }, body }),
      small,
    );
    expect(res.status).toBe(413);
    const json = (await res.json()) as GqlResponse;
    expect(json.errors?.[0]?.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body', rule: 'max-bytes' });
  });

  it('a request under the limit still works there', async () => {
    const res = await small.gql(`{ jobs(first: 1) { edges { cursor } } }`);
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
  });
});

describe('control', () => {
  it('a valid request at the rules’ boundaries is stored, so the counts above could see one', async () => {
    const before = await stored(t);
    const res = await create('createFaceswapComicJob', {
      ...BASE.createFaceswapComicJob, prompt: 'x'.repeat(2000), cfg: 0.1, steps: 50, styleStrength: 2, faceStrength: 0,
      growMask: 100, outputQuality: 1, seed: 0,
    });
    expect(res.data.result.__typename, JSON.stringify(res)).toBe('FaceswapComicJob');
    const after = await stored(t);
    expect(after.jobs).toBe(before.jobs + 1);
    expect(after.events).toBeGreaterThan(before.events);
    expect((await waitForFinal(t, res.data.result.id)).status).toBe('COMPLETED');
  });
});
