import { base64Param, imageFormatParam } from './shared-params.js';
import type { ModelSpec } from './types.js';

declare module './types.js' {
  interface ModelKeys { FACESWAP_COMIC: true }
}

export const faceswapComic: ModelSpec = {
  key: 'FACESWAP_COMIC',
  slug: 'faceswap-comic',
  graphqlName: 'FaceswapComic',
  description: 'Put a real face into an illustration (about 21 s per generation).',
  protocol: 'sync',
  endpoint: '/v1/faceswap-comic',
  params: [
    { kind: 'image', wire: 'source_image', name: 'sourceImage', required: true, description: 'The real face.' },
    { kind: 'image', wire: 'target_image', name: 'targetImage', required: true, description: 'The illustration.' },
    { kind: 'float', wire: 'face_strength', name: 'faceStrength', default: 0.8, min: 0, max: 1, description: 'Strength of face preservation.' },
    { kind: 'float', wire: 'style_strength', name: 'styleStrength', default: 0.8, min: 0, max: 2, description: 'Strength of style adaptation.' },
    {
      kind: 'seed', wire: 'seed', name: 'seed', vendorDefault: 63255,
      description: 'Seed for reproducible results; drawn by the server and recorded when left out.',
    },
    { kind: 'int', wire: 'steps', name: 'steps', default: 10, min: 1, max: 50, description: 'Inference steps.' },
    { kind: 'float', wire: 'cfg', name: 'cfg', default: 1.6, min: 0.1, max: 10, description: 'Classifier-free guidance scale.' },
    { kind: 'string', wire: 'prompt', name: 'prompt', default: '', maxLength: 2000, description: 'Expression or mood hint (happy, crying, closed eyes...).' },
    { kind: 'image', wire: 'mask_image', name: 'maskImage', required: false, description: 'Optional region mask.' },
    { kind: 'int', wire: 'grow_mask', name: 'growMask', default: 0, min: 0, max: 100, description: 'Grow the mask outward by this many pixels.' },
    imageFormatParam('output_format', 'outputFormat', 'jpeg'),
    { kind: 'int', wire: 'output_quality', name: 'outputQuality', default: 95, min: 1, max: 100, description: 'Output image quality.' },
    base64Param,
  ],
  price: { price: '0.065', source: 'vendor page: $0.065 per generation' },
  local: { runs: false, reason: 'turning a real face into an illustration needs a diffusion model; the local provider only warps and blends real faces' },
};
