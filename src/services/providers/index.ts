import type pg from 'pg';
import type { Config, ProviderName } from '../../config.js';
import type { ModelKey } from '../../models/types.js';
import { withUpstreamLimits } from './limits.js';
import { createLocalProvider, unsupportedOptions, type LocalProvider, type UnsupportedOption } from './local.js';
import { routeByProvider } from './router.js';
import { createSegmindProvider } from './segmind.js';
import type { UpstreamProvider } from './types.js';
import { componentLogger } from '../../util/logger.js';

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
    visibilityGraceMs: config.upstream.visibilityGraceMs,
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
    log: log ?? ((line) => componentLogger('upstream').warn(line)),
    maxConcurrency: config.upstream.maxConcurrency,
    ratePerWindow: config.upstream.ratePerMinute,
    windowMs: config.upstream.rateWindowMs,
  });
}

/**
 * The local engine, started on its first job: its threads load the face
 * models (a few seconds of CPU), which a service that never runs a local job
 * should not pay for.
 */
function lazyLocalProvider(config: Pick<Config, 'providers' | 'limits'>): UpstreamProvider & { close(): Promise<void> } {
  let local: LocalProvider | null = null;
  const get = () => (local ??= createLocalProvider({
    poolSize: config.providers.localThreads || undefined,
    fetch: { allowHosts: config.providers.localFetchAllowHosts, maxBytes: config.limits.maxImageBytes },
  }));
  return {
    name: 'local',
    // Every model runs to the end within one submit: no queue, no poll.
    runsSynchronously: () => true,
    submit: (job, signal) => get().submit(job, signal),
    poll: (job, signal) => get().poll(job, signal),
    close: async () => {
      await local?.close();
    },
  };
}

export interface WorkerProvider {
  provider: UpstreamProvider;
  close(): Promise<void>;
}

/**
 * What a worker runs jobs with: each job goes to the provider recorded on it,
 * Segmind (or its emulator) behind the upstream limits, or the local engine,
 * which has its own queue and no upstream to spare.
 */
export function workerProvider(
  config: Config,
  pool: pg.Pool,
  log?: (line: string) => void,
  segmind: UpstreamProvider = providerFromConfig(config),
): WorkerProvider {
  const local = lazyLocalProvider(config);
  return {
    provider: routeByProvider({ segmind: limitedProvider(segmind, pool, config, log), local }, 'segmind'),
    close: () => local.close(),
  };
}

/** What `provider` cannot honour of a job; refused at submission (UnsupportedOptionError). */
export function unsupportedBy(provider: ProviderName, model: ModelKey, params: Record<string, unknown>): UnsupportedOption[] {
  return provider === 'local' ? unsupportedOptions(model, params) : [];
}
