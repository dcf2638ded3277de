import type pg from 'pg';
import type { Config } from '../../config.js';
import { withUpstreamLimits } from './limits.js';
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
    requestTimeoutMs: config.upstream.requestTimeoutMs,
    pollTimeoutMs: config.upstream.callTimeoutMs,
  });
}

/**
 * The provider a worker uses: `provider` behind the configured concurrency
 * limit (per worker process) and submission rate limit (shared through the
 * database by every worker). Wrap once per worker.
 */
export function limitedProvider(
  provider: UpstreamProvider,
  pool: pg.Pool,
  config: Pick<Config, 'upstream'>,
  log?: (line: string) => void,
): UpstreamProvider {
  return withUpstreamLimits(provider, {
    pool,
    log,
    maxConcurrency: config.upstream.maxConcurrency,
    ratePerWindow: config.upstream.ratePerMinute,
    windowMs: config.upstream.rateWindowMs,
  });
}
