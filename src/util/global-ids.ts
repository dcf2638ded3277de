// Relay global ids: base64 of "<Type>:<uuid>".
import { decodeGlobalID } from '@pothos/plugin-relay';
import { isUuid } from './uuid.js';

/** The typename and id of a global id, or null when `raw` is not one. */
export function tryDecodeGlobalId(raw: string): { typename: string; id: string } | null {
  try {
    return decodeGlobalID(raw);
  } catch {
    return null;
  }
}

/** The uuid of a global id of `typename`, or null when `raw` is not one. */
export function uuidOfGlobalId(raw: string, typename: string): string | null {
  const decoded = tryDecodeGlobalId(raw);
  return decoded && decoded.typename === typename && isUuid(decoded.id) ? decoded.id : null;
}
