import { base64Param, NO_LOCAL_RESTORE, notAppliedIf } from './shared-params.js';
import type { ModelSpec } from './types.js';

declare module './types.js' {
  interface ModelKeys { FACESWAP_V2: true }
}

export const faceswapV2: ModelSpec = {
  key: 'FACESWAP_V2',
  slug: 'faceswap-v2',
  graphqlName: 'FaceswapV2',
  description: 'Single face swap, run through the upstream async queue.',
  protocol: 'queue',
  endpoint: '/v2/faceswap-v2',
  params: [
    { kind: 'image', wire: 'source_img', name: 'sourceImage', required: true, description: 'The face (URL or base64).' },
    { kind: 'image', wire: 'target_img', name: 'targetImage', required: true, description: 'The image that receives it (URL or base64).' },
    { kind: 'faceIndexList', wire: 'input_faces_index', name: 'inputFacesIndex', default: '0', description: 'Comma list of target face indices; faces are ordered large to small.' },
    { kind: 'faceIndexList', wire: 'source_faces_index', name: 'sourceFacesIndex', default: '0', description: 'Comma list of source face indices.' },
    {
      kind: 'enum', wire: 'face_restore', name: 'faceRestore', enumName: 'FaceswapV2FaceRestore',
      values: { CODEFORMER_V0_1_0: 'codeformer-v0.1.0.pth', GFPGAN_V1_4: 'GFPGANv1.4.pth', GFPGAN_V1_3: 'GFPGANv1.3.pth' },
      default: 'codeformer-v0.1.0.pth',
      description: 'Face restore model.',
    },
    base64Param,
  ],
  price: { price: '0.01', source: 'placeholder' },
  local: {
    runs: true, source: 'source_img', target: 'target_img', format: 'jpeg', quality: 95,
    // face_restore has no "disable" value and defaults to CodeFormer: refused only when the client chose it.
    refuse: (params, explicit) => (explicit?.has('face_restore') && params.face_restore !== undefined
      ? [{ option: 'face_restore', value: params.face_restore, reason: NO_LOCAL_RESTORE }]
      : []),
    notApplied: (params) => notAppliedIf(params, 'face_restore', 'defaulted restore model not applied: the local provider has no face restoration'),
  },
};
