// Webhook endpoint ids on the API are Relay global ids, "WebhookEndpoint:<uuid>"
// in base64, like job ids. Kept apart from webhooks.ts so the builder's own
// options can decode them without an import cycle.
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { badInput } from './request-errors.js';

export const WEBHOOK_ENDPOINT_TYPE = 'WebhookEndpoint';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function webhookEndpointGlobalId(id: string): string {
  return encodeGlobalID(WEBHOOK_ENDPOINT_TYPE, id);
}

function tryDecode(raw: string): { typename: string; id: string } | null {
  try {
    return decodeGlobalID(raw);
  } catch {
    return null;
  }
}

/** The uuid of a webhook endpoint's global id, or null when `raw` is not one. */
export function webhookEndpointUuid(raw: string): string | null {
  const decoded = tryDecode(raw);
  return decoded && decoded.typename === WEBHOOK_ENDPOINT_TYPE && UUID.test(decoded.id) ? decoded.id : null;
}

/**
 * For node(id): the decoded id when `raw` names a webhook endpoint, null when
 * it names something else (the caller tries the other kinds), a BAD_USER_INPUT
 * error when it claims to be an endpoint but carries no uuid.
 */
export function decodeWebhookNodeId(raw: string): { typename: string; id: string } | null {
  const decoded = tryDecode(raw);
  if (!decoded || decoded.typename !== WEBHOOK_ENDPOINT_TYPE) return null;
  if (!UUID.test(decoded.id)) throw badInput('id', 'global-id', 'is not a webhook endpoint id (a global id as returned in WebhookEndpoint.id)');
  return decoded;
}
