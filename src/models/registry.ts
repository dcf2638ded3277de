// Every model the service offers, in the order the schema lists them.
import { bodySwap } from './body-swap.js';
import { faceswapComic } from './faceswap-comic.js';
import { faceswapV2 } from './faceswap-v2.js';
import { faceswapV3Multi } from './faceswap-v3-multi.js';
import { faceswapV4 } from './faceswap-v4.js';
import type { ModelKey, ModelSpec } from './types.js';

export const MODELS: readonly ModelSpec[] = [faceswapV4, faceswapV3Multi, faceswapV2, faceswapComic, bodySwap];

const byKey = new Map(MODELS.map((m) => [m.key, m]));

export function modelSpec(key: ModelKey): ModelSpec {
  const spec = byKey.get(key);
  if (!spec) throw new Error(`unknown model ${key}`);
  return spec;
}
