// Webhook endpoints, their deliveries and the delivery log. Everything is
// scoped to the caller's API key: another key's endpoints and deliveries are
// answered exactly like unknown ones.
import { GraphQLError } from 'graphql';
import type { WebhookDelivery, WebhookEndpoint } from '../generated/prisma/client.js';
import type { JobStatus } from '../services/job-status.js';
import {
  createEndpoint, deleteEndpoint, retryDelivery, rotateSecret, updateEndpoint,
  type DeliveryStatus, type EndpointInput,
} from '../services/webhooks.js';
import { builder } from './builder.js';
import { resultUnion } from './result-union.js';
import { InvalidInput, InvalidInputError, UserError, badInput } from './errors.js';
import { JobStatusEnum } from './job-interface.js';
import { decodeJobId } from '../models/job-ids.js';
import { parseEventCursor } from '../resolvers/job-events.js';
import { DEFAULT_PAGE_SIZE, pageSize } from '../resolvers/page-size.js';
import { webhookEndpointUuid } from './webhook-ids.js';
import { isUuid } from '../util/uuid.js';


export class WebhookNotFound {
  constructor(
    readonly id: string,
    readonly message: string,
  ) {}
}

const WebhookNotFoundError = builder.objectType(WebhookNotFound, {
  name: 'WebhookNotFoundError',
  description: 'No webhook endpoint (or delivery) with this id belongs to the calling API key; nothing was changed.',
  interfaces: [UserError],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id given.' }) }),
});

const endpointNotFound = (id: string) => new WebhookNotFound(id, 'No webhook endpoint with this id exists for this API key.');

export const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { description: 'Not yet answered with a 2xx; the next try is at nextAttemptAt.' },
    SUCCEEDED: { description: 'The endpoint answered a try with a 2xx.' },
    FAILED: { description: 'Every try of the retry schedule failed.' },
  },
});

const WebhookAttemptType = builder.prismaObject('WebhookAttempt', {
  description: 'One HTTP try of a delivery.',
  fields: (t) => ({
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: "The endpoint's HTTP status; null when it gave none (see error)." }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first kilobyte of its answer.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why no answer came: timeout, connection refused, DNS, a refused address.' }),
    durationMs: t.exposeInt('durationMs'),
  }),
});

const WebhookDeliveryType = builder.prismaObject('WebhookDelivery', {
  description: 'One job event owed to one endpoint, and its tries.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The webhook-id header: the same on every try, so receivers can drop duplicates.' }),
    event: t.relation('event', { description: 'The job event delivered.' }),
    endpoint: t.relation('endpoint'),
    status: t.field({ type: WebhookDeliveryStatusEnum, resolve: (d) => d.status as DeliveryStatus }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next try is due; null once the delivery SUCCEEDED or FAILED.',
      resolve: (d) => (d.status === 'PENDING' ? d.nextAttemptAt : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    attempts: t.relation('attempts', { description: 'Every try, oldest first.', query: { orderBy: { id: 'asc' } } }),
  }),
});

export const WebhookEndpointType = builder.prismaNode('WebhookEndpoint', {
  description: 'Where your job events are POSTed, signed the Standard Webhooks way.',
  id: { field: 'id' },
  nullable: true,
  // node(id) sees only the caller's endpoints.
  findUnique: (id, ctx) => ({ id, apiKeyId: ctx.apiKey.id }),
  fields: (t) => ({
    url: t.exposeString('url'),
    description: t.exposeString('description'),
    statuses: t.field({
      type: [JobStatusEnum],
      description: 'Statuses whose events are sent; empty means every status.',
      resolve: (e) => e.statuses as JobStatus[],
    }),
    enabled: t.exposeBoolean('enabled', { description: 'A disabled endpoint is sent nothing; its pending retries wait until it is enabled.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveries: t.connection(
      {
        type: WebhookDeliveryType,
        description: "This endpoint's deliveries, newest event first; first at most 100 (default 20).",
        args: {
          status: t.arg({ type: WebhookDeliveryStatusEnum, required: false }),
          job: t.arg.id({ required: false, description: "Only the deliveries of this job's events (a SwapJob id)." }),
        },
        resolve: async (endpoint, args, ctx) => {
          const size = pageSize(args.first ?? DEFAULT_PAGE_SIZE, 'first');
          const jobId = args.job ? decodeJobId(args.job, 'job').id : null;
          const after = parseEventCursor(args.after, 'after');
          if (args.last !== null && args.last !== undefined) throw badInput('last', 'unsupported', 'this connection pages forward only: use first and after');
          if (args.before) throw badInput('before', 'unsupported', 'this connection pages forward only: use first and after');
          const rows = await ctx.db.prisma.webhookDelivery.findMany({
            where: {
              endpointId: endpoint.id,
              ...(args.status ? { status: args.status } : {}),
              ...(jobId ? { event: { jobId } } : {}),
              ...(after !== null ? { eventId: { lt: after } } : {}),
            },
            orderBy: { eventId: 'desc' },
            take: size + 1,
          });
          const page = rows.slice(0, size);
          const edges = page.map((node) => ({ cursor: node.eventId.toString(), node }));
          return {
            edges,
            pageInfo: {
              startCursor: edges[0]?.cursor ?? null,
              endCursor: edges.at(-1)?.cursor ?? null,
              hasNextPage: rows.length > size,
              hasPreviousPage: after !== null,
            },
          };
        },
      },
      { name: 'WebhookDeliveryConnection' },
      { name: 'WebhookDeliveryEdge' },
    ),
  }),
});

// Payloads.
class EndpointCreated {
  constructor(readonly endpoint: WebhookEndpoint, readonly secret: string) {}
}
class EndpointUpdated {
  constructor(readonly endpoint: WebhookEndpoint) {}
}
class EndpointDeleted {
  constructor(readonly id: string) {}
}
class SecretRotated {
  constructor(readonly endpoint: WebhookEndpoint, readonly secret: string) {}
}
class DeliveryRetried {
  constructor(readonly delivery: WebhookDelivery) {}
}

const secretDescription =
  'The signing secret ("whsec_" + base64), shown only here: store it now. Verify deliveries with any Standard Webhooks library.';

const WebhookEndpointCreated = builder.objectType(EndpointCreated, {
  name: 'WebhookEndpointCreated',
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointType, nullable: false, resolve: (p) => p.endpoint }),
    secret: t.exposeString('secret', { description: secretDescription }),
  }),
});
const WebhookEndpointUpdated = builder.objectType(EndpointUpdated, {
  name: 'WebhookEndpointUpdated',
  fields: (t) => ({ endpoint: t.field({ type: WebhookEndpointType, nullable: false, resolve: (p) => p.endpoint }) }),
});
const WebhookEndpointDeleted = builder.objectType(EndpointDeleted, {
  name: 'WebhookEndpointDeleted',
  description: 'The endpoint is gone, with its deliveries and their log.',
  fields: (t) => ({ id: t.exposeID('id') }),
});
const WebhookEndpointSecretRotated = builder.objectType(SecretRotated, {
  name: 'WebhookEndpointSecretRotated',
  description: 'The old secret no longer signs anything, from this moment on (retries included).',
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointType, nullable: false, resolve: (p) => p.endpoint }),
    secret: t.exposeString('secret', { description: secretDescription }),
  }),
});
const WebhookDeliveryRetried = builder.objectType(DeliveryRetried, {
  name: 'WebhookDeliveryRetried',
  fields: (t) => ({ delivery: t.field({ type: WebhookDeliveryType, resolve: (p) => p.delivery }) }),
});

const CreateWebhookEndpointResult = resultUnion('CreateWebhookEndpointResult', {
  description: 'The new endpoint with its secret, or why nothing was created.',
  members: [[EndpointCreated, WebhookEndpointCreated], [InvalidInput, InvalidInputError]],
});
const UpdateWebhookEndpointResult = resultUnion('UpdateWebhookEndpointResult', {
  description: 'The changed endpoint, or why nothing was changed.',
  members: [[EndpointUpdated, WebhookEndpointUpdated], [WebhookNotFound, WebhookNotFoundError], [InvalidInput, InvalidInputError]],
});
const DeleteWebhookEndpointResult = resultUnion('DeleteWebhookEndpointResult', {
  description: 'The deleted id, or why nothing was deleted.',
  members: [[EndpointDeleted, WebhookEndpointDeleted], [WebhookNotFound, WebhookNotFoundError], [InvalidInput, InvalidInputError]],
});
const RotateWebhookEndpointSecretResult = resultUnion('RotateWebhookEndpointSecretResult', {
  description: 'The new secret, or why nothing was changed.',
  members: [[SecretRotated, WebhookEndpointSecretRotated], [WebhookNotFound, WebhookNotFoundError], [InvalidInput, InvalidInputError]],
});
const RetryWebhookDeliveryResult = resultUnion('RetryWebhookDeliveryResult', {
  description: 'The delivery, due again now, or why nothing was changed.',
  members: [[DeliveryRetried, WebhookDeliveryRetried], [WebhookNotFound, WebhookNotFoundError], [InvalidInput, InvalidInputError]],
});

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({
      required: true,
      description:
        'http(s) URL the events are POSTed to, at most 2048 characters. Loopback, private and link-local addresses are refused '
        + 'unless the server runs with WEBHOOK_ALLOW_PRIVATE=true.',
    }),
    description: t.string({ required: false, description: 'A note for humans: not blank, at most 256 characters.' }),
    statuses: t.field({ type: [JobStatusEnum], required: false, description: 'Only events of these statuses; empty or left out: all.' }),
    enabled: t.boolean({ required: false, description: 'Default true.' }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'The fields to change; the rest stay as they are.',
  fields: (t) => ({
    url: t.string({ required: false }),
    description: t.string({ required: false, description: 'null clears it.' }),
    statuses: t.field({ type: [JobStatusEnum], required: false, description: 'Empty (or null): every status.' }),
    enabled: t.boolean({ required: false }),
  }),
});

function badId(field: string): InvalidInput {
  return new InvalidInput([{ field, rule: 'global-id', message: `${field} is not a webhook endpoint id (a global id as returned in WebhookEndpoint.id)` }]);
}

builder.queryFields((t) => ({
  webhookEndpoints: t.prismaField({
    type: ['WebhookEndpoint'],
    description: 'Your webhook endpoints, oldest first.',
    resolve: (query, _root, _args, ctx) =>
      ctx.db.prisma.webhookEndpoint.findMany({ ...query, where: { apiKeyId: ctx.apiKey.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  }),
  webhookEndpoint: t.prismaField({
    type: 'WebhookEndpoint',
    nullable: true,
    description: 'One of your webhook endpoints by its global id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = webhookEndpointUuid(args.id);
      if (!id) throw badInput('id', 'global-id', 'is not a webhook endpoint id (a global id as returned in WebhookEndpoint.id)');
      const endpoint = await ctx.db.prisma.webhookEndpoint.findFirst({ ...query, where: { id, apiKeyId: ctx.apiKey.id } });
      if (!endpoint) {
        throw new GraphQLError(`id: no webhook endpoint with id "${args.id}" exists for this API key`, {
          extensions: { code: 'NOT_FOUND', field: 'id', rule: 'exists' },
        });
      }
      return endpoint;
    },
  }),
}));

function endpointInput(input: {
  url?: string | null; description?: string | null; statuses?: readonly string[] | null; enabled?: boolean | null;
}): EndpointInput {
  return { ...input, statuses: input.statuses as JobStatus[] | null | undefined };
}

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: CreateWebhookEndpointResult,
    description: 'Register an endpoint for your job events. The answer carries its signing secret, shown only this once.',
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const outcome = await createEndpoint(ctx.db.prisma, ctx.apiKey.id, endpointInput(args.input), {
        allowPrivate: ctx.config.webhooks.allowPrivate,
      });
      return outcome.ok ? new EndpointCreated(outcome.value.endpoint, outcome.value.secret) : new InvalidInput(outcome.violations);
    },
  }),
  updateWebhookEndpoint: t.field({
    type: UpdateWebhookEndpointResult,
    description: "Change an endpoint's url, description, statuses or enabled flag.",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = webhookEndpointUuid(args.id);
      if (!id) return badId('id');
      const outcome = await updateEndpoint(ctx.db.prisma, ctx.apiKey.id, id, endpointInput(args.input), {
        allowPrivate: ctx.config.webhooks.allowPrivate,
      });
      if (!outcome) return endpointNotFound(args.id);
      return outcome.ok ? new EndpointUpdated(outcome.value) : new InvalidInput(outcome.violations);
    },
  }),
  deleteWebhookEndpoint: t.field({
    type: DeleteWebhookEndpointResult,
    description: 'Delete an endpoint with its deliveries and their log. Nothing more is sent to it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = webhookEndpointUuid(args.id);
      if (!id) return badId('id');
      return (await deleteEndpoint(ctx.db.prisma, ctx.apiKey.id, id)) ? new EndpointDeleted(args.id) : endpointNotFound(args.id);
    },
  }),
  rotateWebhookEndpointSecret: t.field({
    type: RotateWebhookEndpointSecretResult,
    description: 'Replace the signing secret; the new one is shown only in this answer and signs everything sent from now on.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = webhookEndpointUuid(args.id);
      if (!id) return badId('id');
      const rotated = await rotateSecret(ctx.db.prisma, ctx.apiKey.id, id);
      return rotated ? new SecretRotated(rotated.endpoint, rotated.secret) : endpointNotFound(args.id);
    },
  }),
  retryWebhookDelivery: t.field({
    type: RetryWebhookDeliveryResult,
    description:
      'Send a delivery again now, whatever its status (same webhook-id and body). If that try fails, the delivery goes on '
      + 'with what is left of its retry schedule.',
    args: { id: t.arg.id({ required: true, description: 'WebhookDelivery.id (the webhook-id).' }) },
    resolve: async (_root, args, ctx) => {
      if (!isUuid(args.id)) {
        return new InvalidInput([{ field: 'id', rule: 'uuid', message: 'id is not a webhook delivery id (WebhookDelivery.id, a UUID)' }]);
      }
      const delivery = await retryDelivery(ctx.db.prisma, ctx.apiKey.id, args.id);
      return delivery
        ? new DeliveryRetried(delivery)
        : new WebhookNotFound(args.id, 'No webhook delivery with this id exists for this API key.');
    },
  }),
}));
