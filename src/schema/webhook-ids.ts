// Webhook endpoint ids on the API are Relay global ids, "WebhookEndpoint:<uuid>"
// in base64, like job ids. Kept apart from webhooks.ts so the builder's own
// options can decode them without an import cycle.
import { encodeGlobalID } from '@pothos/plugin-relay';
import { isUuid } from '../util/uuid.js';
import { tryDecodeGlobalId, uuidOfGlobalId } from '../util/global-ids.js';
import { badInput } from '../util/request-errors.js';

export const WEBHOOK_ENDPOINT_TYPE = 'WebhookEndpoint';

export function webhookEndpointGlobalId(id: string): string {
  return encodeGlobalID(WEBHOOK_ENDPOINT_TYPE, id);
}

/** The uuid of a webhook endpoint's global id, or null when `raw` is not one. */
export function webhookEndpointUuid(raw: string): string | null {
  return uuidOfGlobalId(raw, WEBHOOK_ENDPOINT_TYPE);
}

/**
 * For node(id): the decoded id when `raw` names a webhook endpoint, null when
 * it names something else (the caller tries the other kinds), a BAD_USER_INPUT
 * error when it claims to be an endpoint but carries no uuid.
 */
export function decodeWebhookNodeId(raw: string): { typename: string; id: string } | null {
  const decoded = tryDecodeGlobalId(raw);
  if (!decoded || decoded.typename !== WEBHOOK_ENDPOINT_TYPE) return null;
  if (!isUuid(decoded.id)) throw badInput('id', 'global-id', 'is not a webhook endpoint id (a global id as returned in WebhookEndpoint.id)');
  return decoded;
}
