// createApiKey: an admin makes a key over the API (the service keys:create
// uses), sees its secret once, and the key works at once; every refusal is a
// typed error that creates nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countApiKeys, MAX_KEY_NAME_LENGTH } from '../src/services/api-keys.js';
import { startTestApp, type TestApp } from './support/app.js';

const CREATE = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  __typename
  ... on ApiKeyCreated { secret apiKey { id name prefix isAdmin expiresAt revokedAt } }
  ... on UserError { message }
  ... on InvalidInputError { field rule violations { field rule message } } } }`;

let t: TestApp;
let admin: string;

beforeAll(async () => {
  t = await startTestApp({ worker: false });
  admin = await t.newKey('admin', { admin: true });
});
afterAll(async () => {
  await t?.close();
});

async function create(input: Record<string, unknown>, key = admin) {
  const res = await t.gql(CREATE, { input }, key);
  expect(res.errors).toBeUndefined();
  return res.data.createApiKey;
}

describe('createApiKey', () => {
  it('makes a key whose secret, shown once, signs in at once; only its prefix is listed afterwards', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const made = await create({ name: 'ci runner', expiresAt });
    expect(made.__typename).toBe('ApiKeyCreated');
    expect(made.apiKey).toMatchObject({ name: 'ci runner', isAdmin: false, revokedAt: null });
    expect(Date.parse(made.apiKey.expiresAt)).toBe(Date.parse(expiresAt));
    expect(made.secret.startsWith(made.apiKey.prefix)).toBe(true);

    const viewer = await t.gql(`{ viewer { id name isAdmin } }`, {}, made.secret);
    expect(viewer.status).toBe(200);
    expect(viewer.data.viewer).toEqual({ id: made.apiKey.id, name: 'ci runner', isAdmin: false });

    const listed = await t.gql(`{ apiKeys { id prefix } }`, {}, admin);
    expect(listed.data.apiKeys.map((k: any) => k.id)).toContain(made.apiKey.id);
    expect(JSON.stringify(listed)).not.toContain(made.secret);
  });

  it('makes an admin key when asked, which can make keys in turn', async () => {
    const made = await create({ name: 'second admin', admin: true });
    expect(made.apiKey.isAdmin).toBe(true);
    const again = await create({ name: 'made by the second admin' }, made.secret);
    expect(again.__typename).toBe('ApiKeyCreated');
  });

  it('refuses an ordinary key with NotAdminError, creating nothing', async () => {
    const before = await countApiKeys(t.app.db.pool);
    const refused = await create({ name: 'sneaky', admin: true }, t.key);
    expect(refused).toEqual({ __typename: 'NotAdminError', message: 'Only admin keys can create API keys; nothing was changed.' });
    expect(await countApiKeys(t.app.db.pool)).toBe(before);
  });

  it.each([
    ['an empty name', { name: '' }, 'input.name', 'required'],
    ['a blank name', { name: '   ' }, 'input.name', 'required'],
    ['a name over the limit', { name: 'k'.repeat(MAX_KEY_NAME_LENGTH + 1) }, 'input.name', 'max-length'],
    ['a name with a newline', { name: 'two\nlines' }, 'input.name', 'printable'],
    ['an expiry in the past', { name: 'late', expiresAt: new Date(Date.now() - 60_000).toISOString() }, 'input.expiresAt', 'future'],
  ])('refuses %s with an InvalidInputError at the field, creating nothing', async (_what, input, field, rule) => {
    const before = await countApiKeys(t.app.db.pool);
    const refused = await create(input);
    expect(refused.__typename).toBe('InvalidInputError');
    expect(refused.violations).toEqual([expect.objectContaining({ field, rule })]);
    expect(refused.message).toContain(field);
    expect(await countApiKeys(t.app.db.pool)).toBe(before);
  });

  it('names every bad field at once', async () => {
    const refused = await create({ name: '', expiresAt: '2001-01-01T00:00:00Z' });
    expect(refused.violations.map((v: any) => v.field)).toEqual(['input.name', 'input.expiresAt']);
  });

  it('a name of exactly the limit is fine', async () => {
    expect((await create({ name: 'k'.repeat(MAX_KEY_NAME_LENGTH) })).__typename).toBe('ApiKeyCreated');
  });

  it('a badly typed input is a GraphQL validation error naming the field', async () => {
    const res = await t.gql(CREATE, { input: { name: 'x', admin: 'yes' } }, admin);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/admin/);
    const noKey = await t.gql(CREATE, { input: { name: 'x' } }, null);
    expect(noKey.status).toBe(401);
  });
});
