import { base64Param, genderParam, imageFormatParam, NO_LOCAL_RESTORE, notAppliedIf } from './shared-params.js';
import type { ModelSpec } from './types.js';

declare module './types.js' {
  interface ModelKeys { FACESWAP_V3_MULTI: true }
}

export const faceswapV3Multi: ModelSpec = {
  key: 'FACESWAP_V3_MULTI',
  slug: 'faceswap-v3-multifaceswap',
  graphqlName: 'FaceswapV3Multi',
  description: 'Swap several faces at once.',
  protocol: 'sync',
  endpoint: '/v1/faceswap-v3-multifaceswap',
  params: [
    { kind: 'image', wire: 'source_img', name: 'sourceImage', required: true, description: 'Face image (close-up, high resolution is best).' },
    { kind: 'image', wire: 'target_img', name: 'targetImage', required: true, description: 'Image whose faces are replaced.' },
    { kind: 'faceIndexList', wire: 'input_faces_index', name: 'inputFacesIndex', default: '0', description: 'Comma list of target face indices, e.g. "0,1,2".' },
    { kind: 'faceIndexList', wire: 'source_faces_index', name: 'sourceFacesIndex', default: '0', description: 'Comma list of source face indices.' },
    {
      kind: 'enum', wire: 'detection_face_order', name: 'detectionFaceOrder', enumName: 'FaceDetectionOrder',
      values: {
        LARGE_SMALL: 'large-small', SMALL_LARGE: 'small-large', TOP_BOTTOM: 'top-bottom',
        BOTTOM_TOP: 'bottom-top', LEFT_RIGHT: 'left-right', RIGHT_LEFT: 'right-left',
      },
      default: 'large-small',
      description: 'The order in which detected faces are numbered.',
    },
    {
      kind: 'enum', wire: 'facedetection', name: 'faceDetection', enumName: 'FaceDetectionModel',
      values: {
        RETINAFACE_RESNET50: 'retinaface_resnet50', RETINAFACE_MOBILE0_25: 'retinaface_mobile0.25',
        YOLOV5L: 'YOLOv5l', YOLOV5N: 'YOLOv5n',
      },
      default: 'retinaface_resnet50',
      description: 'Face detection model.',
    },
    genderParam('detect_gender_input', 'detectGenderInput', 'target'),
    genderParam('detect_gender_source', 'detectGenderSource', 'source'),
    {
      kind: 'enum', wire: 'face_restore', name: 'faceRestore', enumName: 'FaceswapV3FaceRestore',
      values: {
        DISABLE: 'disable', CODEFORMER_V0_1_0: 'codeformer-v0.1.0.pth',
        GFPGAN_V1_4: 'GFPGANv1.4.pth', GFPGAN_V1_3: 'GFPGANv1.3.pth',
      },
      default: 'disable',
      description: 'Face restore model; use DISABLE when swapping several faces.',
    },
    { kind: 'float', wire: 'face_restore_weight', name: 'faceRestoreWeight', default: 0.75, min: 0, max: 1, description: 'Face restore weight.' },
    {
      kind: 'enum', wire: 'interpolation', name: 'interpolation', enumName: 'Interpolation',
      values: { NEAREST: 'Nearest', BILINEAR: 'Bilinear', BICUBIC: 'Bicubic', LANCZOS: 'Lanczos' },
      default: 'Bilinear',
      description: 'Interpolation method.',
    },
    imageFormatParam('image_format', 'imageFormat', 'jpeg'),
    { kind: 'int', wire: 'image_quality', name: 'imageQuality', default: 95, min: 10, max: 100, description: 'Output image quality.' },
    base64Param,
  ],
  price: { price: '0.01', source: 'placeholder' },
  local: {
    runs: true, source: 'source_img', target: 'target_img', format: 'jpeg', quality: 95, faceOrderParam: 'detection_face_order',
    refuse: (params) => [
      ...(params.face_restore !== undefined && params.face_restore !== 'disable'
        ? [{ option: 'face_restore', value: params.face_restore, reason: NO_LOCAL_RESTORE }]
        : []),
      ...['detect_gender_input', 'detect_gender_source']
        .filter((key) => params[key] !== undefined && params[key] !== 'no')
        .map((key) => ({ option: key, value: params[key], reason: 'the local provider does not filter faces by gender' })),
    ],
    notApplied: (params) => [
      ...notAppliedIf(params, 'facedetection', 'best effort: the local provider always detects with BlazeFace and the 468-point face mesh'),
      ...(params.face_restore === 'disable' ? notAppliedIf(params, 'face_restore_weight', 'no effect: face restore is disabled') : []),
    ],
  },
};
