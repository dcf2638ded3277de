import { base64Param, imageFormatParam } from './shared-params.js';
import type { ModelSpec } from './types.js';

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
};
