import { MODELS } from '../../src/models/registry.js';
import type { ModelKey, Protocol } from '../../src/models/types.js';
import { createHash } from 'node:crypto';

export const SOURCE_URL = 'https://example.com/faces/source.jpg';
export const TARGET_URL = 'https://example.com/faces/target.png';

/** A 1×1 PNG, as base64: the smallest real image an image field accepts. */
export const TINY_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

export function sha256(bytes: Buffer | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The selection every test reads back from a job. */
export const SWAP_JOB_FIELDS = `
  __typename
  ... on SwapJob { id model status provider seed parameters createdAt
    output { url sha256 bytes mimeType width height }
    failure { code message }
    events { status } }`;

/** The same for a create mutation's result union. */
export const JOB_FIELDS = `${SWAP_JOB_FIELDS}
  ... on InvalidInputError { message field rule violations { field rule message } }`;

/** For each model: its mutation and a minimal valid input. */
export const MODEL_CASES = [
  { model: 'FACESWAP_V4', mutation: 'createFaceswapV4Job', type: 'FaceswapV4Job', input: { sourceImage: SOURCE_URL, targetImage: TARGET_URL } },
  { model: 'FACESWAP_V3_MULTI', mutation: 'createFaceswapV3MultiJob', type: 'FaceswapV3MultiJob', input: { sourceImage: SOURCE_URL, targetImage: TARGET_URL } },
  { model: 'FACESWAP_V2', mutation: 'createFaceswapV2Job', type: 'FaceswapV2Job', input: { sourceImage: SOURCE_URL, targetImage: TINY_PNG_BASE64 } },
  { model: 'FACESWAP_COMIC', mutation: 'createFaceswapComicJob', type: 'FaceswapComicJob', input: { sourceImage: SOURCE_URL, targetImage: TARGET_URL } },
  { model: 'BODY_SWAP', mutation: 'createBodySwapJob', type: 'BodySwapJob', input: {} },
] as const;

export function createMutation(mutation: string, inputType: string): string {
  return `mutation($input: ${inputType}!) { result: ${mutation}(input: $input) { ${JOB_FIELDS} } }`;
}

export function inputTypeOf(mutation: string): string {
  return `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input`;
}

/** The first registered model the upstream runs with `protocol`: tests pick models by what the spec says, not by name. */
export function modelWithProtocol(protocol: Protocol): ModelKey {
  const spec = MODELS.find((m) => m.protocol === protocol);
  if (!spec) throw new Error(`no model runs with protocol ${protocol}`);
  return spec.key;
}

