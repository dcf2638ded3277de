import type { Config } from '../../config.js';
import { createSegmindProvider } from './segmind.js';
import type { UpstreamProvider } from './types.js';

/** The key the built-in emulator accepts; only ever sent to loopback. */
export const EMULATOR_API_KEY = 'emulator-key';

/**
 * Segmind itself when SEGMIND_API_KEY is set; otherwise the emulator of its API
 * at SEGMIND_BASE_URL (the embedded default starts one on loopback).
 */
export function providerFromConfig(config: Config): UpstreamProvider {
  return createSegmindProvider({
    baseUrl: config.segmind.baseUrl,
    apiKey: config.segmind.apiKey ?? EMULATOR_API_KEY,
  });
}
