// Webhook endpoints of one API key: where its job events are POSTed, signed
// the Standard Webhooks way (webhook-dispatcher.ts sends them). Every query
// here is scoped by the caller's key, exactly as for jobs. Input is checked
// in full before anything is written, and every broken rule is reported with
// the field and the rule's name.
//
// Endpoint URLs must not point into the service's own network: a webhook URL
// is a request this server makes on a client's behalf, and without this rule
// any API key could make it probe or call loopback services, the cloud
// metadata address (169.254.169.254) or the private network behind it (SSRF).
// The rule (src/net/special-addresses.ts) is checked here for a clear error
// at registration, and again by the dispatcher's guarded fetch on every
// connection (a name may resolve elsewhere later).
import { randomBytes } from 'node:crypto';
import type { PrismaClient, WebhookDelivery, WebhookEndpoint } from '../generated/prisma/client.js';
import type { Violation } from '../models/normalise.js';
import { targetRefusal, type OutboundPolicy } from '../net/guarded-fetch.js';
import { credentialsViolation } from '../net/url-credentials.js';
import type { JobStatus } from './job-status.js';
import { WEBHOOKS_CHANNEL } from './job-transitions.js';
import { isUuid } from '../util/uuid.js';

export const MAX_URL_LENGTH = 2048;
export const MAX_DESCRIPTION_LENGTH = 256;
const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 24;

export type DeliveryStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED';

/** "whsec_" + base64 of 24 random bytes: the format Standard Webhooks verifiers take as is. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a "whsec_…" secret: the bytes its base64 part encodes. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** What a webhook may reach: public addresses only, unless WEBHOOK_ALLOW_PRIVATE lifts the rule. */
export function webhookPolicy(allowPrivate: boolean): OutboundPolicy {
  return { anyAddress: allowPrivate, hint: 'WEBHOOK_ALLOW_PRIVATE is off' };
}

/** The URL rules, in order; violations are collected for `field`. */
export async function checkUrl(raw: string, field: string, allowPrivate: boolean): Promise<Violation[]> {
  if (raw.length > MAX_URL_LENGTH) {
    return [{ field, rule: 'max-length', message: `url must be at most ${MAX_URL_LENGTH} characters` }];
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [{ field, rule: 'url', message: 'url must be an absolute URL, e.g. https://example.com/hooks' }];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return [{ field, rule: 'url-scheme', message: `url must use http or https, not ${url.protocol.replace(/:$/, '')}` }];
  }
  const credentials = credentialsViolation(url);
  if (credentials) return [{ field, rule: credentials.rule, message: `url ${credentials.message}` }];
  if (!allowPrivate) {
    const reason = await targetRefusal(url, webhookPolicy(false));
    if (reason) {
      return [{
        field,
        rule: 'private-address',
        message: `url must reach a public address: ${reason} (the server operator may allow such targets with WEBHOOK_ALLOW_PRIVATE=true)`,
      }];
    }
  }
  return [];
}

export function checkDescription(value: string, field: string): Violation[] {
  if (value.trim() === '') return [{ field, rule: 'not-blank', message: 'description must not be empty or blank when given' }];
  if ([...value].length > MAX_DESCRIPTION_LENGTH) {
    return [{ field, rule: 'max-length', message: `description must be at most ${MAX_DESCRIPTION_LENGTH} characters` }];
  }
  return [];
}

export interface EndpointInput {
  url?: string | null;
  description?: string | null;
  statuses?: readonly JobStatus[] | null;
  enabled?: boolean | null;
}

export type EndpointOutcome<T> = { ok: true; value: T } | { ok: false; violations: Violation[] };

async function checkInput(input: EndpointInput, creating: boolean, allowPrivate: boolean): Promise<Violation[]> {
  const violations: Violation[] = [];
  if (typeof input.url === 'string') violations.push(...(await checkUrl(input.url, 'input.url', allowPrivate)));
  else if (creating) violations.push({ field: 'input.url', rule: 'required', message: 'url is required' });
  else if (input.url === null) violations.push({ field: 'input.url', rule: 'not-null', message: 'url cannot be null; leave it out to keep it' });
  if (typeof input.description === 'string') violations.push(...checkDescription(input.description, 'input.description'));
  if (input.enabled === null) violations.push({ field: 'input.enabled', rule: 'not-null', message: 'enabled cannot be null; leave it out to keep it' });
  return violations;
}

function statusList(statuses: readonly JobStatus[] | null | undefined): JobStatus[] {
  return [...new Set(statuses ?? [])];
}

export async function createEndpoint(
  prisma: PrismaClient,
  apiKeyId: string,
  input: EndpointInput,
  opts: { allowPrivate: boolean },
): Promise<EndpointOutcome<{ endpoint: WebhookEndpoint; secret: string }>> {
  const violations = await checkInput(input, true, opts.allowPrivate);
  if (violations.length) return { ok: false, violations };
  const secret = generateSecret();
  const endpoint = await prisma.webhookEndpoint.create({
    data: {
      apiKeyId,
      url: input.url!,
      secret,
      description: input.description ?? '',
      statuses: statusList(input.statuses),
      enabled: input.enabled ?? true,
    },
  });
  return { ok: true, value: { endpoint, secret } };
}

export function findEndpoint(prisma: PrismaClient, apiKeyId: string, id: string): Promise<WebhookEndpoint | null> {
  if (!isUuid(id)) return Promise.resolve(null);
  return prisma.webhookEndpoint.findFirst({ where: { id, apiKeyId } });
}

/**
 * Changes the fields given (description: null clears it). Disabling stops new
 * deliveries and pauses pending retries; enabling resumes them. null when the
 * key has no such endpoint.
 */
export async function updateEndpoint(
  prisma: PrismaClient,
  apiKeyId: string,
  id: string,
  input: EndpointInput,
  opts: { allowPrivate: boolean },
): Promise<EndpointOutcome<WebhookEndpoint> | null> {
  const violations = await checkInput(input, false, opts.allowPrivate);
  if (!(await findEndpoint(prisma, apiKeyId, id))) return null;
  if (violations.length) return { ok: false, violations };
  const data: { url?: string; description?: string; statuses?: JobStatus[]; enabled?: boolean } = {};
  if (typeof input.url === 'string') data.url = input.url;
  if (input.description !== undefined) data.description = input.description ?? '';
  if (input.statuses !== undefined) data.statuses = statusList(input.statuses);
  if (typeof input.enabled === 'boolean') data.enabled = input.enabled;
  const { count } = await prisma.webhookEndpoint.updateMany({ where: { id, apiKeyId }, data });
  if (count === 0) return null;
  const endpoint = await prisma.webhookEndpoint.findFirst({ where: { id, apiKeyId } });
  return endpoint ? { ok: true, value: endpoint } : null;
}

/** Deletes the endpoint with its deliveries and their attempts. False when the key has no such endpoint. */
export async function deleteEndpoint(prisma: PrismaClient, apiKeyId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { count } = await prisma.webhookEndpoint.deleteMany({ where: { id, apiKeyId } });
  return count > 0;
}

/** A new secret, effective at once (deliveries not yet sent are signed with it). null when not found. */
export async function rotateSecret(
  prisma: PrismaClient,
  apiKeyId: string,
  id: string,
): Promise<{ endpoint: WebhookEndpoint; secret: string } | null> {
  if (!isUuid(id)) return null;
  const secret = generateSecret();
  const { count } = await prisma.webhookEndpoint.updateMany({ where: { id, apiKeyId }, data: { secret } });
  if (count === 0) return null;
  const endpoint = await prisma.webhookEndpoint.findFirst({ where: { id, apiKeyId } });
  return endpoint ? { endpoint, secret } : null;
}

/**
 * Sends a delivery again as soon as a dispatcher is free, whatever its status:
 * one more attempt; if it fails, the delivery goes on with the rest of its
 * retry schedule (ending FAILED at once when the schedule was used up). Returns
 * the row as this update left it (PENDING), not as read afterwards: a free
 * dispatcher may already have sent it by then. null when the key has no such
 * delivery.
 */
export async function retryDelivery(prisma: PrismaClient, apiKeyId: string, id: string): Promise<WebhookDelivery | null> {
  if (!isUuid(id)) return null;
  const rows = await prisma.$queryRaw<WebhookDelivery[]>`
    UPDATE webhook_deliveries d SET status = 'PENDING', next_attempt_at = now(), finished_at = NULL
    FROM webhook_endpoints w
    WHERE d.id = ${id}::uuid AND w.id = d.endpoint_id AND w.api_key_id = ${apiKeyId}::uuid
    RETURNING d.id::text AS id, d.endpoint_id::text AS "endpointId", d.event_id AS "eventId", d.status,
      d.attempt_count AS "attemptCount", d.next_attempt_at AS "nextAttemptAt", d.locked_by AS "lockedBy",
      d.locked_until AS "lockedUntil", d.created_at AS "createdAt", d.finished_at AS "finishedAt"`;
  if (!rows[0]) return null;
  await prisma.$executeRaw`SELECT pg_notify(${WEBHOOKS_CHANNEL}, '')`;
  return rows[0];
}
