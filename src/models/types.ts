// A model is described once, as data: its upstream protocol and every
// documented parameter with its wire name, GraphQL name, default and rule.
// The GraphQL types, the validation and the normalised parameter set stored
// for reruns are all derived from this description (src/schema/model-types.ts,
// src/models/normalise.ts), so adding a model is one spec module plus one line
// in registry.ts.

/** e.g. "FACESWAP_V4"; stored in jobs.model and exposed as the JobModel enum. */
export type ModelKey = string;

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
}

export const SEED_MIN = 0;
/** GraphQL Int is 32-bit signed, so seeds are kept within it. */
export const SEED_MAX = 2_147_483_647;
