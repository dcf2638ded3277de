import { base64Param, imageFormatParam, notAppliedIf } from './shared-params.js';
import type { ModelSpec } from './types.js';

declare module './types.js' {
  interface ModelKeys { FACESWAP_V4: true }
}

export const faceswapV4: ModelSpec = {
  key: 'FACESWAP_V4',
  slug: 'faceswap-v4',
  graphqlName: 'FaceswapV4',
  description: 'Face or head swap (diffusion), with seed control.',
  protocol: 'sync',
  endpoint: '/v1/faceswap-v4',
  params: [
    { kind: 'image', wire: 'source_image', name: 'sourceImage', required: true, description: 'The face to put in.' },
    { kind: 'image', wire: 'target_image', name: 'targetImage', required: true, description: 'The image that receives it.' },
    {
      kind: 'enum', wire: 'swap_type', name: 'swapType', enumName: 'FaceswapV4SwapType',
      values: { HEAD: 'head', FACE: 'face' }, default: 'head',
      description: 'Swap the whole head or just the face.',
    },
    {
      kind: 'enum', wire: 'model_type', name: 'modelType', enumName: 'FaceswapV4ModelType',
      values: { SPEED: 'speed', QUALITY: 'quality' }, default: 'speed',
      description: 'speed = 8 inference steps, quality = 30.',
    },
    {
      kind: 'enum', wire: 'style_type', name: 'styleType', enumName: 'FaceswapV4StyleType',
      values: { NORMAL: 'normal', STYLE: 'style' }, default: 'normal',
      description: 'normal keeps the source style; style matches the target image.',
    },
    {
      kind: 'seed', wire: 'seed', name: 'seed', vendorDefault: 42,
      description: 'Random seed for reproducibility; drawn by the server and recorded when left out.',
    },
    imageFormatParam('image_format', 'imageFormat', 'png'),
    { kind: 'int', wire: 'image_quality', name: 'imageQuality', default: 90, min: 10, max: 100, description: 'Output image quality.' },
    {
      kind: 'enum', wire: 'hardware', name: 'hardware', enumName: 'FaceswapV4Hardware',
      values: { FAST: 'fast', COST: 'cost' }, default: 'fast',
      description: 'Affects latency and cost only, never quality.',
    },
    base64Param,
  ],
  price: { price: '0.04', options: { hardware: { fast: '0.04', cost: '0.02' } }, source: 'placeholder' },
  local: {
    runs: true, source: 'source_image', target: 'target_image', format: 'png', quality: 90, summary: 'faceswap-v4 with swapType FACE',
    refuse: (params) => (params.swap_type !== 'face'
      ? [{ option: 'swap_type', value: params.swap_type ?? 'head', reason: 'the local provider swaps faces only; head swap (hair and head shape) needs the vendor diffusion model' }]
      : []),
    notApplied: (params) => [
      ...notAppliedIf(params, 'model_type', 'no diffusion steps locally: the swap is a mesh warp with colour transfer'),
      ...notAppliedIf(params, 'style_type', 'not applied: the face is always colour-matched to the target'),
      ...notAppliedIf(params, 'hardware', 'the local provider runs on this machine\'s CPU'),
    ],
  },
};
