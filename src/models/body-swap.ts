import type { ModelSpec } from './types.js';

declare module './types.js' {
  interface ModelKeys { BODY_SWAP: true }
}

export const BODY_SWAP_WORKFLOW_ID = '678b67a76426baad7e539337-v4';

export const bodySwap: ModelSpec = {
  key: 'BODY_SWAP',
  slug: 'ai-body-swap',
  graphqlName: 'BodySwap',
  description: 'Replace the subject of a single-person photo (about $0.2687 per run).',
  protocol: 'workflow',
  endpoint: `/workflows/${BODY_SWAP_WORKFLOW_ID}`,
  params: [
    {
      kind: 'image', wire: 'reference_character_image', name: 'referenceCharacterImage', required: false,
      default: 'https://segmind-inference-inputs.s3.amazonaws.com/e741b982-1a3a-43a3-9007-cc27e30b6ea0-29890cbc-c007-4a86-b31d-e9c8097c4c38.png',
      description: 'The body/character to put in; defaults to the vendor sample.',
    },
    {
      kind: 'image', wire: 'character_image', name: 'characterImage', required: false,
      default: 'https://segmind-inference-inputs.s3.amazonaws.com/6f754395-4c9b-471f-b5e2-7b3cf6126bc4-1112524499.jpeg',
      description: 'The photo whose subject is replaced; defaults to the vendor sample.',
    },
    { kind: 'string', wire: 'select_character', name: 'selectCharacter', default: 'woman', maxLength: 200, description: 'Which subject to select.' },
  ],
  price: { price: '0.2687', source: 'vendor page: about $0.2687 per run' },
  local: { runs: false, reason: 'body swap needs a generative model; the local provider swaps faces only' },
};
