// Revoking, expiring and listing API keys, on two API processes sharing one
// database, with real graphql-ws clients: a revoked key's next request is
// refused and its open sockets close on every process; an expired key likewise
// once its time passes; a process that missed the notice catches up when its
// listener reconnects; admins only, with typed errors; and the key commands
// (keys:list, keys:revoke, keys:create --expires).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/services/api-keys.js';
import { startTestApp, type TestApp } from './support/app.js';
import { waitUntil } from './support/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) {
  __typename
  ... on ApiKeyRevoked { apiKey { id name revokedAt } }
  ... on UserError { message }
  ... on ApiKeyNotFoundError { id }
  ... on InvalidInputError { violations { field rule } } } }`;
const JOBS_UPDATED = `subscription { jobsUpdated { status } }`;

let a: TestApp;
let b: TestApp;
let admin: string;
const clients: Client[] = [];

beforeAll(async () => {
  a = await startTestApp({ worker: false });
  b = await startTestApp({ worker: false, databaseUrl: a.databaseUrl });
  admin = await a.newKey('admin', { admin: true });
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await b?.close();
  await a?.close();
});

async function idOf(key: string): Promise<string> {
  const res = await a.gql(`{ viewer { id } }`, {}, key);
  expect(res.status).toBe(200);
  return res.data.viewer.id;
}

/** A connected graphql-ws client of `key` on `t` with one live subscription, recording how its socket closes. */
async function connected(t: TestApp, key: string) {
  const closes: { code: number; reason: string }[] = [];
  let acked = false;
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  clients.push(client);
  client.on('connected', () => (acked = true));
  client.on('closed', (event) => {
    const e = event as { code: number; reason: string };
    closes.push({ code: e.code, reason: e.reason });
  });
  client.subscribe({ query: JOBS_UPDATED }, { next: () => {}, error: () => {}, complete: () => {} });
  await waitUntil(async () => acked || closes.length > 0, () => 'neither connected nor closed');
  return { acked, closes };
}

function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `src/cli/${script}.ts`, ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: a.databaseUrl },
    }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

describe('revokeApiKey', () => {
  it("refuses the key's next request and closes its open sockets on every API process; other keys go on", async () => {
    const victim = await a.newKey('victim');
    const id = await idOf(victim);
    const onA = await connected(a, victim);
    const onB = await connected(b, victim);
    const bystander = await connected(b, await a.newKey('bystander'));
    expect([onA.acked, onB.acked, bystander.acked]).toEqual([true, true, true]);

    const res = await a.gql(REVOKE, { id }, admin);
    expect(res.data.revokeApiKey).toMatchObject({ __typename: 'ApiKeyRevoked', apiKey: { id, name: 'victim' } });
    const revokedAt = res.data.revokeApiKey.apiKey.revokedAt;
    expect(Date.parse(revokedAt)).not.toBeNaN();

    const closed = { code: 4403, reason: 'API key revoked' };
    await waitUntil(async () => onA.closes.length > 0 && onB.closes.length > 0, () => JSON.stringify([onA.closes, onB.closes]));
    expect(onA.closes).toEqual([closed]);
    expect(onB.closes).toEqual([closed]);
    for (const t of [a, b]) {
      const next = await t.gql(`{ __typename }`, {}, victim);
      expect(next.status).toBe(401);
      expect(next.errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', field: 'Authorization' });
    }
    expect(await connected(b, victim)).toMatchObject({ acked: false, closes: [{ code: 4403 }] });
    expect(bystander.closes).toEqual([]);

    // Again: nothing changes, the first revocation time stays.
    const again = await a.gql(REVOKE, { id }, admin);
    expect(again.data.revokeApiKey.apiKey.revokedAt).toBe(revokedAt);
    const listed = (await b.gql(`{ apiKeys { id revokedAt expiresAt } }`, {}, admin)).data.apiKeys;
    expect(listed).toContainEqual({ id, revokedAt, expiresAt: null });
  });

  it('typed errors: NotAdminError for an ordinary key, ApiKeyNotFoundError for an unknown id, InvalidInputError for a malformed one; nothing changes', async () => {
    const plain = await a.newKey('plain');
    const target = await a.newKey('target');
    const targetId = await idOf(target);
    expect((await a.gql(REVOKE, { id: targetId }, plain)).data.revokeApiKey).toEqual({
      __typename: 'NotAdminError', message: 'Only admin keys can revoke API keys; nothing was changed.',
    });
    const ghost = Buffer.from('ApiKey:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await a.gql(REVOKE, { id: ghost }, admin)).data.revokeApiKey).toEqual({
      __typename: 'ApiKeyNotFoundError', message: 'No API key with this id exists; nothing was changed.', id: ghost,
    });
    expect((await a.gql(REVOKE, { id: 'nope' }, admin)).data.revokeApiKey).toMatchObject({
      __typename: 'InvalidInputError', violations: [{ field: 'id', rule: 'global-id' }],
    });
    expect((await a.gql(`{ __typename }`, {}, target)).status).toBe(200);
    const { rows } = await a.app.db.pool.query(`SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NOT NULL AND name IN ('plain', 'target')`);
    expect(rows[0].n).toBe(0);
  });

  it("a process that missed the notice (its listener was down) closes the key's sockets once it reconnects", async () => {
    const victim = await a.newKey('missed');
    const onA = await connected(a, victim);
    expect(onA.acked).toBe(true);
    // Revoked without a notice, then the listeners are cut: what a process sees when a
    // notice was sent while its LISTEN connection was down.
    await a.app.db.pool.query(`UPDATE api_keys SET revoked_at = now() WHERE name = 'missed'`);
    await a.app.db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`,
    );
    await waitUntil(async () => onA.closes.length > 0, () => 'the socket stayed open');
    expect(onA.closes).toEqual([{ code: 4403, reason: 'API key revoked' }]);
  });
});

describe('expiry', () => {
  it('an expired key is refused like a revoked one: requests get 401 and its open sockets close once its time passes, not before', async () => {
    // Long enough to connect twice on a busy machine before it passes.
    const expiresAt = new Date(Date.now() + 10_000);
    const { id, secret } = await createApiKey(a.app.db.pool, 'short-lived', { expiresAt });
    expect((await b.gql(`{ viewer { expiresAt } }`, {}, secret)).data.viewer.expiresAt).toBe(expiresAt.toISOString());
    const onA = await connected(a, secret);
    const onB = await connected(b, secret);
    expect([onA.acked, onB.acked]).toEqual([true, true]);
    await waitUntil(async () => onA.closes.length > 0 && onB.closes.length > 0, () => 'the sockets stayed open');
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(onA.closes).toEqual([{ code: 4403, reason: 'API key expired' }]);
    expect(onB.closes).toEqual([{ code: 4403, reason: 'API key expired' }]);
    expect((await a.gql(`{ __typename }`, {}, secret)).status).toBe(401);
    expect(await connected(a, secret)).toMatchObject({ acked: false, closes: [{ code: 4403 }] });
    const listed = (await a.gql(`{ apiKeys { id expiresAt revokedAt } }`, {}, admin)).data.apiKeys;
    expect(listed).toContainEqual({ id: Buffer.from(`ApiKey:${id}`).toString('base64'), expiresAt: expiresAt.toISOString(), revokedAt: null });
  });

  it('a key created already expired is refused at once', async () => {
    const { secret } = await createApiKey(a.app.db.pool, 'stale', { expiresAt: new Date(Date.now() - 1000) });
    expect((await a.gql(`{ __typename }`, {}, secret)).status).toBe(401);
    expect(await connected(a, secret)).toMatchObject({ acked: false, closes: [{ code: 4403 }] });
  });
});

// Each command is a Node process of its own (a few seconds each on a busy machine).
describe('key commands', () => {
  it('keys:create --expires, keys:list, and keys:revoke by name, which closes the key\'s sockets on every process', async () => {
    const created = await cli('create-key', ['cli-key', '--expires', '2h']);
    expect(created.code).toBe(0);
    const [, id, expires] = /"cli-key" \(([0-9a-f-]{36}), expires (\S+)\):/.exec(created.stdout)!;
    const secret = created.stdout.trim().split('\n').at(-1)!;
    expect(Date.parse(expires!) - Date.now()).toBeGreaterThan(7_000_000);
    const onB = await connected(b, secret);
    expect(onB.acked).toBe(true);

    const listed = await cli('list-keys', []);
    expect(listed.code).toBe(0);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(id!))!;
    expect(line).toMatch(new RegExp(`^${id}\\s+cli-key\\s+${secret.slice(0, 10)}…\\s+no\\s+\\S+\\s+active until ${expires}$`));

    const revoked = await cli('revoke-key', ['cli-key']);
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringContaining(`Revoked API key "cli-key" (${id})`) });
    await waitUntil(async () => onB.closes.length > 0, () => 'the socket stayed open');
    expect(onB.closes).toEqual([{ code: 4403, reason: 'API key revoked' }]);
    expect((await cli('list-keys', [])).stdout).toMatch(new RegExp(`^${id}\\s.*\\srevoked \\S+$`, 'm'));
    expect(await cli('revoke-key', [id!])).toMatchObject({ code: 0, stdout: expect.stringContaining('was already revoked') });
  });

  it('keys:revoke refuses an unknown or ambiguous name, and keys:create a bad expiry, changing nothing', async () => {
    await a.newKey('twin');
    await a.newKey('twin');
    const ambiguous = await cli('revoke-key', ['twin']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain('2 API keys are named "twin"; give the id of one:');
    const unknown = await cli('revoke-key', ['nobody']);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('No API key has the id or name "nobody"') });
    const past = await cli('create-key', ['late', '--expires', '2001-01-01T00:00:00Z']);
    expect(past).toMatchObject({ code: 2, stderr: expect.stringContaining('--expires must be in the future') });
    const garbled = await cli('create-key', ['late', '--expires', 'soon']);
    expect(garbled).toMatchObject({ code: 2, stderr: expect.stringContaining('--expires must be an ISO 8601 time or a duration') });
    const { rows } = await a.app.db.pool.query(`SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NOT NULL AND name = 'twin' OR name = 'late'`);
    expect(rows[0].n).toBe(0);
  });
});
