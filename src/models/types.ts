// A model is described once, as data: its upstream protocol and every
// documented parameter with its wire name, GraphQL name, default and rule.
// The GraphQL types, the validation and the normalised parameter set stored
// for reruns are all derived from this description (src/schema/model-types.ts,
// src/models/normalise.ts), so adding a model is one spec module plus one line
// in registry.ts.

/**
 * The key of every registered model: each spec module adds its own to this
 * interface (declaration merging), so ModelKey is a union the compiler checks.
 */
export interface ModelKeys {}

/** e.g. "FACESWAP_V4"; stored in jobs.model and exposed as the JobModel enum. */
export type ModelKey = keyof ModelKeys & string;

/**
 * How the upstream runs the model:
 * - sync: one POST answers with the image (Segmind v1);
 * - queue: POST returns a request id, then status and result are polled (Segmind v2);
 * - workflow: POST returns a poll_url that is polled until COMPLETED (Segmind workflows).
 */
export type Protocol = 'sync' | 'queue' | 'workflow';

interface ParamBase {
  /** The upstream's field name, sent as is. */
  wire: string;
  /** The GraphQL input/output field name. */
  name: string;
  description: string;
}

export interface ImageParam extends ParamBase {
  kind: 'image';
  required: boolean;
  /** Used when the client leaves an optional image out. */
  default?: string;
}

export interface EnumParam extends ParamBase {
  kind: 'enum';
  /** GraphQL enum type name; a name shared by two params means one shared enum. */
  enumName: string;
  /** GraphQL value name → exact wire string. */
  values: Record<string, string>;
  /** A wire string. */
  default: string;
}

export interface NumberParam extends ParamBase {
  kind: 'int' | 'float';
  default?: number;
  min?: number;
  max?: number;
}

/** The model's seed: drawn by the server when left out, always recorded. */
export interface SeedParam extends ParamBase {
  kind: 'seed';
  /** The vendor's own default, documented but never used: we always draw or take one. */
  vendorDefault: number;
}

export interface BooleanParam extends ParamBase {
  kind: 'boolean';
  default: boolean;
}

export interface StringParam extends ParamBase {
  kind: 'string';
  default: string;
  maxLength: number;
}

/** A comma list of face indices such as "0,1,2". */
export interface FaceIndexListParam extends ParamBase {
  kind: 'faceIndexList';
  default: string;
}

export type ParamSpec =
  | ImageParam
  | EnumParam
  | NumberParam
  | SeedParam
  | BooleanParam
  | StringParam
  | FaceIndexListParam;

/** What a model costs upstream by default, in US dollars per run (PRICES overrides it; models/prices.ts). */
export interface PriceSource {
  price: string;
  failurePrice?: string;
  /** Prices that replace `price` for one value of an enum parameter: wire name → wire value → dollars. */
  options?: Record<string, Record<string, string>>;
  /** Where the figure comes from; documentation only. */
  source: string;
}

/** An option the local engine cannot honour: the job is refused with it. */
export interface UnsupportedOption {
  /** The wire name, or "model" when the whole model is out of reach. */
  option: string;
  value: unknown;
  reason: string;
}

/** An option the local engine accepts without an equivalent: recorded on the output. */
export interface NotAppliedOption {
  option: string;
  value: unknown;
  note: string;
}

/** How the local engine (services/providers/local.ts) runs a model, or why it cannot. */
export type LocalMapping =
  | { runs: false; reason: string }
  | {
    runs: true;
    /** Wire names of the face image and of the image that receives it. */
    source: string;
    target: string;
    /** Output format and quality when the params name none. */
    format: 'jpeg' | 'png' | 'webp';
    quality: number;
    /** The wire param that orders detected faces; without one, faces are numbered large to small. */
    faceOrderParam?: string;
    /** How the Provider enum's description names what runs locally; default: the slug. */
    summary?: string;
    /** Options refused for these normalised params; `explicit`: the wire fields the client set itself. */
    refuse?: (params: Record<string, unknown>, explicit?: ReadonlySet<string>) => UnsupportedOption[];
    /** Options accepted without a local equivalent. */
    notApplied?: (params: Record<string, unknown>) => NotAppliedOption[];
  };

export interface ModelSpec {
  key: ModelKey;
  /** The vendor's model name, e.g. "faceswap-v4". */
  slug: string;
  /** Stem of every GraphQL name: FaceswapV4 → FaceswapV4Job, FaceswapV4Result, createFaceswapV4Job. */
  graphqlName: string;
  description: string;
  protocol: Protocol;
  /** Path of the submit request on the upstream, e.g. "/v1/faceswap-v4". */
  endpoint: string;
  params: ParamSpec[];
  /** The default price (models/prices.ts). */
  price: PriceSource;
  /** The local engine's mapping. */
  local: LocalMapping;
}

export const SEED_MIN = 0;
/** GraphQL Int is 32-bit signed, so seeds are kept within it. */
export const SEED_MAX = 2_147_483_647;
