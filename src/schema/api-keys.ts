// API keys as the API sees them: the caller (viewer), every key for admins,
// the budgets admins set on them, and revocation.
import type { ObjectRef } from '@pothos/core';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { createApiKey, findApiKey, keyNameProblem, listApiKeys, revokeApiKey, type ApiKeyRow } from '../services/api-keys.js';
import { parseUsd, USD_RULE } from '../util/money.js';
import { removeBudget, setBudget, usage, type BudgetPeriod } from '../services/spend.js';
import { builder } from './builder.js';
import { resultUnion } from './result-union.js';
import type { Context } from '../resolvers/context.js';
import { InvalidInput, InvalidInputError, UserError, badInput } from './errors.js';
import { uuidOfGlobalId } from '../util/global-ids.js';
import { BudgetPeriodEnum } from './money.js';
import { UsageType } from './usage.js';

const API_KEY_TYPE = 'ApiKey';

export function apiKeyGlobalId(id: string): string {
  return encodeGlobalID(API_KEY_TYPE, id);
}

/** The uuid of an ApiKey global id, or null when `raw` is not one. */
export function apiKeyUuid(raw: string): string | null {
  return uuidOfGlobalId(raw, API_KEY_TYPE);
}

export function forbidden(field: string, message: string): GraphQLError {
  return new GraphQLError(`${field}: ${message}`, { extensions: { code: 'FORBIDDEN', field, rule: 'admin' } });
}

/**
 * The key whose figures a query reads: the caller's own when `raw` is left
 * out; another key's only for admins (ordinary keys get FORBIDDEN, exactly as
 * for unknown ids, so ids of other keys cannot be probed).
 */
export async function targetKey(ctx: Context, raw: string | null | undefined, field: string): Promise<string> {
  if (raw === null || raw === undefined) return ctx.apiKey.id;
  const id = apiKeyUuid(raw);
  if (!id) throw badInput(field, 'global-id', 'is not an API key id (ApiKey.id)');
  if (id === ctx.apiKey.id) return id;
  if (!ctx.apiKey.isAdmin) throw forbidden(field, "only admin keys can read another key's figures");
  if (!(await findApiKey(ctx.db.pool, id))) throw new GraphQLError(`${field}: no API key with this id`, { extensions: { code: 'NOT_FOUND', field, rule: 'exists' } });
  return id;
}

export const ApiKeyType = builder.objectRef<ApiKeyRow>('ApiKey').implement({
  description: 'An API key (never its secret).',
  fields: (t) => ({
    id: t.id({ resolve: (k) => apiKeyGlobalId(k.id) }),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart.' }),
    isAdmin: t.exposeBoolean('isAdmin', { description: "Admin keys see every key's spend and set budgets." }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'When the key was revoked; a revoked key is refused.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'When the key stops working (refused like a revoked key); null: never.' }),
    usage: t.field({ type: UsageType, description: 'Spend, reservations and budgets of this key.', resolve: (k, _a, ctx) => usage(ctx.db.pool, k.id) }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ApiKeyType,
    description: 'The API key making the request.',
    resolve: async (_root, _args, ctx) => (await findApiKey(ctx.db.pool, ctx.apiKey.id))!,
  }),
  apiKeys: t.field({
    type: [ApiKeyType],
    description: 'Every API key, oldest first. Admin keys only.',
    resolve: async (_root, _args, ctx) => {
      if (!ctx.apiKey.isAdmin) throw forbidden('apiKeys', 'only admin keys can list API keys');
      return listApiKeys(ctx.db.pool);
    },
  }),
}));

export class NotAdmin {
  constructor(readonly action = 'change budgets') {}
  get message(): string {
    return `Only admin keys can ${this.action}; nothing was changed.`;
  }
}
const NotAdminError = builder.objectType(NotAdmin, {
  name: 'NotAdminError',
  description: 'The mutation needs an admin key.',
  interfaces: [UserError],
  fields: () => ({}),
});

export class ApiKeyNotFound {
  constructor(readonly id: string) {}
  readonly message = 'No API key with this id exists; nothing was changed.';
}
const ApiKeyNotFoundError = builder.objectType(ApiKeyNotFound, {
  name: 'ApiKeyNotFoundError',
  interfaces: [UserError],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id given.' }) }),
});

class BudgetChanged {
  constructor(readonly apiKeyId: string) {}
}
const BudgetChangedType = builder.objectType(BudgetChanged, {
  name: 'BudgetChanged',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyType, resolve: async (b, _a, ctx) => (await findApiKey(ctx.db.pool, b.apiKeyId))! }),
  }),
});

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The result of an admin's change to a key: `Done`, or why nothing changed. */
function adminKeyResult<T extends object>(name: string, description: string, Done: new (...args: never[]) => T, DoneType: ObjectRef<Types, T>) {
  return resultUnion(name, {
    description,
    members: [[Done, DoneType], [InvalidInput, InvalidInputError], [NotAdmin, NotAdminError], [ApiKeyNotFound, ApiKeyNotFoundError]],
  });
}

const BudgetResult = adminKeyResult('BudgetResult', 'The key with its budgets now, or why nothing changed.', BudgetChanged, BudgetChangedType);

const SetBudgetInput = builder.inputType('SetBudgetInput', {
  fields: (t) => ({
    apiKey: t.id({ required: true, description: 'ApiKey.id of the key to cap.' }),
    period: t.field({ type: BudgetPeriodEnum, required: true }),
    limit: t.string({ required: true, description: `The cap in US dollars: ${USD_RULE}.` }),
  }),
});

/** Checks the admin and the key id; the key's uuid, or the error to return. */
async function adminTarget(ctx: Context, raw: string, field: string, action?: string): Promise<string | NotAdmin | ApiKeyNotFound | InvalidInput> {
  if (!ctx.apiKey.isAdmin) return new NotAdmin(action);
  const id = apiKeyUuid(raw);
  if (!id) return new InvalidInput([{ field, rule: 'global-id', message: 'is not an API key id (ApiKey.id)' }]);
  if (!(await findApiKey(ctx.db.pool, id))) return new ApiKeyNotFound(raw);
  return id;
}

builder.mutationFields((t) => ({
  setBudget: t.field({
    type: BudgetResult,
    description:
      'Cap what a key may commit in a period (admin keys only). A create that would take the key past it returns '
      + 'BudgetExceededError and creates nothing. Setting a budget below what is already committed refuses new jobs only.',
    args: { input: t.arg({ type: SetBudgetInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const target = await adminTarget(ctx, input.apiKey, 'input.apiKey');
      if (typeof target !== 'string') return target;
      const limit = parseUsd(input.limit);
      if (limit === null) return new InvalidInput([{ field: 'input.limit', rule: 'usd', message: `must be ${USD_RULE}` }]);
      await setBudget(ctx.db.pool, target, input.period as BudgetPeriod, limit);
      return new BudgetChanged(target);
    },
  }),
  removeBudget: t.field({
    type: BudgetResult,
    description: "Remove a key's budget for a period (admin keys only). Removing one that is not set changes nothing.",
    args: { apiKey: t.arg.id({ required: true }), period: t.arg({ type: BudgetPeriodEnum, required: true }) },
    resolve: async (_root, args, ctx) => {
      const target = await adminTarget(ctx, args.apiKey, 'apiKey');
      if (typeof target !== 'string') return target;
      await removeBudget(ctx.db.pool, target, args.period as BudgetPeriod);
      return new BudgetChanged(target);
    },
  }),
}));

class ApiKeyRevoked {
  constructor(readonly apiKey: ApiKeyRow) {}
}
const ApiKeyRevokedType = builder.objectType(ApiKeyRevoked, {
  name: 'ApiKeyRevoked',
  fields: (t) => ({ apiKey: t.field({ type: ApiKeyType, resolve: (r) => r.apiKey }) }),
});

const RevokeApiKeyResult = adminKeyResult('RevokeApiKeyResult', 'The revoked key, or why nothing changed.', ApiKeyRevoked, ApiKeyRevokedType);

builder.mutationFields((t) => ({
  revokeApiKey: t.field({
    type: RevokeApiKeyResult,
    description:
      'Revoke a key for good (admin keys only): its requests are refused from now on and its open '
      + 'WebSocket connections, on every API process, are closed (4403) within about a second. '
      + 'Revoking a revoked key changes nothing (revokedAt stays the first revocation). '
      + 'Jobs it created keep running and stay in history.',
    args: { id: t.arg.id({ required: true, description: 'ApiKey.id of the key to revoke.' }) },
    resolve: async (_root, args, ctx) => {
      const target = await adminTarget(ctx, args.id, 'id', 'revoke API keys');
      if (typeof target !== 'string') return target;
      const revoked = await revokeApiKey(ctx.db.pool, target);
      return revoked ? new ApiKeyRevoked(revoked) : new ApiKeyNotFound(args.id);
    },
  }),
}));

class ApiKeyCreated {
  constructor(readonly apiKey: ApiKeyRow, readonly secret: string) {}
}
const ApiKeyCreatedType = builder.objectType(ApiKeyCreated, {
  name: 'ApiKeyCreated',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyType, resolve: (r) => r.apiKey }),
    secret: t.exposeString('secret', { description: 'The key itself, shown only in this answer: only its hash is stored.' }),
  }),
});

const CreateApiKeyResult = resultUnion('CreateApiKeyResult', {
  description: 'The new key with its secret, or why none was made.',
  members: [[ApiKeyCreated, ApiKeyCreatedType], [InvalidInput, InvalidInputError], [NotAdmin, NotAdminError]],
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'A label for people (1–100 characters, no control characters); names need not be unique.' }),
    admin: t.boolean({ required: false, defaultValue: false, description: 'An admin key: sees every key, sets budgets, creates and revokes keys.' }),
    expiresAt: t.field({ type: 'DateTime', required: false, description: 'When the key stops working (in the future); left out: never.' }),
  }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyResult,
    description: 'Make an API key (admin keys only), as `npm run keys:create` does. The answer carries its secret, shown only this once.',
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      if (!ctx.apiKey.isAdmin) return new NotAdmin('create API keys');
      const violations = [];
      const nameProblem = keyNameProblem(input.name);
      if (nameProblem) violations.push({ field: 'input.name', ...nameProblem });
      if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
        violations.push({ field: 'input.expiresAt', rule: 'future', message: 'must be in the future' });
      }
      if (violations.length) return new InvalidInput(violations);
      const { id, secret } = await createApiKey(ctx.db.pool, input.name, { admin: input.admin ?? false, expiresAt: input.expiresAt ?? null });
      return new ApiKeyCreated((await findApiKey(ctx.db.pool, id))!, secret);
    },
  }),
}));
