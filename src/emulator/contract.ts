// The emulator's own reading of /work/shared/MODELS.md. It deliberately does
// not import src/models: if the service gets a wire name, an enum value or a
// range wrong, an emulator built from the same table would agree with the
// mistake, while one built from the contract answers 400.

export type FieldRule =
  | { type: 'image'; required: boolean; default?: string }
  | { type: 'enum'; values: readonly string[]; default: string }
  | { type: 'int'; default: number; min?: number; max?: number }
  | { type: 'number'; default: number; min: number; max: number }
  | { type: 'bool'; default: boolean }
  | { type: 'string'; default: string }
  /** A comma list of face indices such as "0,1,2". */
  | { type: 'faceList'; default: string };

export type FieldDef = FieldRule & {
  /**
   * false for fields documented as not changing the picture (`base64` only
   * changes the encoding, `hardware` only latency and cost), so they are left
   * out of the hash the output image is derived from.
   */
  affectsOutput?: false;
};

export type ImageFormat = 'png' | 'jpeg' | 'webp';
export type Mode = 'sync' | 'queue' | 'workflow';

export interface EmulatedModel {
  /** The vendor's model name; faults and stats are keyed by it. */
  slug: string;
  /** Other names a fault may use to match the model (e.g. the workflow id). */
  aliases?: readonly string[];
  fields: Readonly<Record<string, FieldDef>>;
  /**
   * What the account is billed for one accepted run, in micro-dollars: the
   * vendor's published figures for comic and the body swap workflow; the
   * service's placeholder defaults for the others, so reconciliation tests
   * can compare the two.
   */
  priceMicros(params: Record<string, unknown>): number;
  output: {
    /** The field choosing the format, when the model has one. */
    formatField?: string;
    qualityField?: string;
    defaultFormat: ImageFormat;
    /** Used when the model has no quality field. */
    defaultQuality: number;
  };
}

export interface Route {
  method: 'POST';
  path: string;
  model: EmulatedModel;
  mode: Mode;
  auth: 'x-api-key' | 'bearer';
}

const FORMATS = ['png', 'jpeg', 'webp'] as const;
const RESTORE_V3 = ['disable', 'codeformer-v0.1.0.pth', 'GFPGANv1.4.pth', 'GFPGANv1.3.pth'] as const;
const RESTORE_V2 = ['codeformer-v0.1.0.pth', 'GFPGANv1.4.pth', 'GFPGANv1.3.pth'] as const;
const GENDER = ['no', 'female', 'male'] as const;

const noOutputEffect = { affectsOutput: false } as const;

export const FACESWAP_V4: EmulatedModel = {
  slug: 'faceswap-v4',
  priceMicros: (params) => (params.hardware === 'cost' ? 20_000 : 40_000),
  fields: {
    source_image: { type: 'image', required: true },
    target_image: { type: 'image', required: true },
    swap_type: { type: 'enum', values: ['head', 'face'], default: 'head' },
    model_type: { type: 'enum', values: ['speed', 'quality'], default: 'speed' },
    style_type: { type: 'enum', values: ['normal', 'style'], default: 'normal' },
    seed: { type: 'int', default: 42 },
    image_format: { type: 'enum', values: FORMATS, default: 'png' },
    image_quality: { type: 'int', default: 90, min: 10, max: 100 },
    hardware: { type: 'enum', values: ['fast', 'cost'], default: 'fast', ...noOutputEffect },
    base64: { type: 'bool', default: false, ...noOutputEffect },
  },
  output: { formatField: 'image_format', qualityField: 'image_quality', defaultFormat: 'png', defaultQuality: 90 },
};

export const FACESWAP_V3_MULTI: EmulatedModel = {
  slug: 'faceswap-v3-multifaceswap',
  priceMicros: () => 10_000,
  fields: {
    source_img: { type: 'image', required: true },
    target_img: { type: 'image', required: true },
    input_faces_index: { type: 'faceList', default: '0' },
    source_faces_index: { type: 'faceList', default: '0' },
    detection_face_order: {
      type: 'enum',
      values: ['large-small', 'small-large', 'top-bottom', 'bottom-top', 'left-right', 'right-left'],
      default: 'large-small',
    },
    facedetection: {
      type: 'enum',
      values: ['retinaface_resnet50', 'retinaface_mobile0.25', 'YOLOv5l', 'YOLOv5n'],
      default: 'retinaface_resnet50',
    },
    detect_gender_input: { type: 'enum', values: GENDER, default: 'no' },
    detect_gender_source: { type: 'enum', values: GENDER, default: 'no' },
    face_restore: { type: 'enum', values: RESTORE_V3, default: 'disable' },
    face_restore_weight: { type: 'number', default: 0.75, min: 0, max: 1 },
    interpolation: { type: 'enum', values: ['Nearest', 'Bilinear', 'Bicubic', 'Lanczos'], default: 'Bilinear' },
    image_format: { type: 'enum', values: FORMATS, default: 'jpeg' },
    image_quality: { type: 'int', default: 95, min: 10, max: 100 },
    base64: { type: 'bool', default: false, ...noOutputEffect },
  },
  output: { formatField: 'image_format', qualityField: 'image_quality', defaultFormat: 'jpeg', defaultQuality: 95 },
};

export const FACESWAP_V2: EmulatedModel = {
  slug: 'faceswap-v2',
  priceMicros: () => 10_000,
  fields: {
    source_img: { type: 'image', required: true },
    target_img: { type: 'image', required: true },
    input_faces_index: { type: 'faceList', default: '0' },
    source_faces_index: { type: 'faceList', default: '0' },
    face_restore: { type: 'enum', values: RESTORE_V2, default: 'codeformer-v0.1.0.pth' },
    base64: { type: 'bool', default: false, ...noOutputEffect },
  },
  // The contract gives no format for v2; it answers JPEG.
  output: { defaultFormat: 'jpeg', defaultQuality: 90 },
};

export const FACESWAP_COMIC: EmulatedModel = {
  slug: 'faceswap-comic',
  priceMicros: () => 65_000,
  fields: {
    source_image: { type: 'image', required: true },
    target_image: { type: 'image', required: true },
    face_strength: { type: 'number', default: 0.8, min: 0, max: 1 },
    style_strength: { type: 'number', default: 0.8, min: 0, max: 2 },
    seed: { type: 'int', default: 63255 },
    steps: { type: 'int', default: 10, min: 1, max: 50 },
    cfg: { type: 'number', default: 1.6, min: 0.1, max: 10 },
    prompt: { type: 'string', default: '' },
    mask_image: { type: 'image', required: false },
    grow_mask: { type: 'int', default: 0, min: 0, max: 100 },
    output_format: { type: 'enum', values: FORMATS, default: 'jpeg' },
    output_quality: { type: 'int', default: 95, min: 1, max: 100 },
    base64: { type: 'bool', default: false, ...noOutputEffect },
  },
  output: { formatField: 'output_format', qualityField: 'output_quality', defaultFormat: 'jpeg', defaultQuality: 95 },
};

export const BODY_SWAP_WORKFLOW_ID = '678b67a76426baad7e539337-v4';

export const BODY_SWAP: EmulatedModel = {
  slug: 'ai-body-swap',
  priceMicros: () => 268_700,
  aliases: [BODY_SWAP_WORKFLOW_ID],
  fields: {
    reference_character_image: {
      type: 'image',
      required: false,
      default: 'https://segmind-inference-inputs.s3.amazonaws.com/e741b982-1a3a-43a3-9007-cc27e30b6ea0-29890cbc-c007-4a86-b31d-e9c8097c4c38.png',
    },
    character_image: {
      type: 'image',
      required: false,
      default: 'https://segmind-inference-inputs.s3.amazonaws.com/6f754395-4c9b-471f-b5e2-7b3cf6126bc4-1112524499.jpeg',
    },
    select_character: { type: 'string', default: 'woman' },
  },
  output: { defaultFormat: 'png', defaultQuality: 90 },
};

export const EMULATED_MODELS: readonly EmulatedModel[] = [FACESWAP_V4, FACESWAP_V3_MULTI, FACESWAP_V2, FACESWAP_COMIC, BODY_SWAP];

export const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/v1/faceswap-v4', model: FACESWAP_V4, mode: 'sync', auth: 'x-api-key' },
  { method: 'POST', path: '/v1/faceswap-v3-multifaceswap', model: FACESWAP_V3_MULTI, mode: 'sync', auth: 'x-api-key' },
  { method: 'POST', path: '/v1/faceswap-v2', model: FACESWAP_V2, mode: 'sync', auth: 'x-api-key' },
  { method: 'POST', path: '/v1/faceswap-comic', model: FACESWAP_COMIC, mode: 'sync', auth: 'x-api-key' },
  { method: 'POST', path: '/v2/faceswap-v2', model: FACESWAP_V2, mode: 'queue', auth: 'x-api-key' },
  { method: 'POST', path: `/workflows/${BODY_SWAP_WORKFLOW_ID}`, model: BODY_SWAP, mode: 'workflow', auth: 'bearer' },
];

/** The documented meaning of each error status, used as the default body of injected faults. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request: invalid parameters or request format',
  401: 'Unauthorized: missing or invalid API key',
  403: 'Forbidden: insufficient permissions',
  404: 'Not Found: model or endpoint not found',
  406: 'Insufficient Credits: not enough credits to process request',
  413: 'Payload Too Large',
  422: 'Unprocessable: the request failed',
  429: 'Rate Limited: too many requests',
  500: 'Server Error: internal server error',
  502: 'Bad Gateway: service temporarily unavailable',
  503: 'Service Unavailable',
  504: 'Timeout: request timed out',
};

export function findModel(name: string): EmulatedModel | undefined {
  return EMULATED_MODELS.find((m) => m.slug === name || m.aliases?.includes(name));
}
