// Job ids on the API are Relay global ids: base64 of "<JobType>:<uuid>".
import { encodeGlobalID } from '@pothos/plugin-relay';
import { MODELS } from './registry.js';
import { isUuid } from '../util/uuid.js';
import { tryDecodeGlobalId } from '../util/global-ids.js';
import { badInput } from '../util/request-errors.js';

export function jobTypeName(modelKey: string): string {
  const spec = MODELS.find((m) => m.key === modelKey);
  if (!spec) throw new Error(`unknown model ${modelKey}`);
  return `${spec.graphqlName}Job`;
}

const MODEL_OF_TYPE = new Map(MODELS.map((m) => [`${m.graphqlName}Job`, m.key]));

export function jobGlobalId(job: { id: string; model: string }): string {
  return encodeGlobalID(jobTypeName(job.model), job.id);
}

/**
 * Typename, uuid and model of a job's global id, or a BAD_USER_INPUT error
 * naming `field`. The model scopes every lookup: FaceswapV2Job:<uuid of a v4 job> names no job.
 */
export function decodeJobId(raw: string, field: string): { typename: string; id: string; model: string } {
  const decoded = tryDecodeGlobalId(raw);
  const model = decoded && MODEL_OF_TYPE.get(decoded.typename);
  if (!decoded || !model || !isUuid(decoded.id)) {
    throw badInput(field, 'global-id', 'is not a job id (a global id as returned in SwapJob.id)');
  }
  return { ...decoded, model };
}
