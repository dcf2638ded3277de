// Job ids on the API are Relay global ids: base64 of "<JobType>:<uuid>".
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { MODELS } from '../models/registry.js';
import { badInput } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function jobTypeName(modelKey: string): string {
  const spec = MODELS.find((m) => m.key === modelKey);
  if (!spec) throw new Error(`unknown model ${modelKey}`);
  return `${spec.graphqlName}Job`;
}

const JOB_TYPE_NAMES = new Set(MODELS.map((m) => `${m.graphqlName}Job`));

export function jobGlobalId(job: { id: string; model: string }): string {
  return encodeGlobalID(jobTypeName(job.model), job.id);
}

/** The job uuid inside a global id, or a BAD_USER_INPUT error naming `field`. */
export function parseJobId(raw: string, field: string): string {
  let decoded: { typename: string; id: string } | null = null;
  try {
    decoded = decodeGlobalID(raw);
  } catch {
    decoded = null;
  }
  if (!decoded || !JOB_TYPE_NAMES.has(decoded.typename) || !UUID.test(decoded.id)) {
    throw badInput(field, 'global-id', 'is not a job id (a global id as returned in SwapJob.id)');
  }
  return decoded.id;
}
