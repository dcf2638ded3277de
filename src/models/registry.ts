// Every model the service offers, in the order the schema lists them. A model
// is its spec module: registerModel is the one way in, for the five below and
// for any other (test/sixth-model.test.ts registers one from test code).
import { bodySwap } from './body-swap.js';
import { faceswapComic } from './faceswap-comic.js';
import { faceswapV2 } from './faceswap-v2.js';
import { faceswapV3Multi } from './faceswap-v3-multi.js';
import { faceswapV4 } from './faceswap-v4.js';
import type { ModelKey, ModelSpec } from './types.js';

const registered: ModelSpec[] = [];
const byKey = new Map<string, ModelSpec>();

/** The registered models. Everything derived from them (schema, prices) reads this when it is built. */
export const MODELS: readonly ModelSpec[] = registered;

/** Adds a model; before the schema and the configuration are built from MODELS. */
export function registerModel(spec: ModelSpec): void {
  if (byKey.has(spec.key)) throw new Error(`model ${spec.key} is registered already`);
  registered.push(spec);
  byKey.set(spec.key, spec);
}

for (const spec of [faceswapV4, faceswapV3Multi, faceswapV2, faceswapComic, bodySwap]) registerModel(spec);

/** The spec of `key`, or undefined for a key no model has (a stored job of a model since removed, a client's typo). */
export function findModel(key: string): ModelSpec | undefined {
  return byKey.get(key);
}

export function modelSpec(key: ModelKey | string): ModelSpec {
  const spec = byKey.get(key);
  if (!spec) throw new Error(`unknown model ${key}`);
  return spec;
}
