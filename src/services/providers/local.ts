// The `local` provider: face swaps on this machine's CPU with the engine in
// src/engine (Human's face mesh, a triangle warp, colour transfer, blending),
// run in a pool of worker threads. It answers every submission synchronously
// (`completed` or `failed`), so `poll` is never called for its jobs.
//
// What it cannot honour is listed by `unsupportedOptions`, to be refused at
// submission; options it accepts without applying them (a vendor detector or
// inference setting with no local equivalent) are listed by
// `notAppliedOptions` and recorded on the output, never silently dropped.
import { FACE_ORDERS, type FaceOrder } from '../../engine/detect.js';
import { fetchImageInput, InputFetchError, type FetchInputOptions } from '../../net/fetch-input.js';
import type { ImageFormat, Interpolation } from '../../engine/image-io.js';
import { createSwapPool, PoolBusyError, type SwapPool } from '../../engine/pool.js';
import type { SwapRequest } from '../../engine/swap.js';
import { findModel } from '../../models/registry.js';
import type { LocalMapping, ModelKey, NotAppliedOption, UnsupportedOption } from '../../models/types.js';
import type { PollOutcome, ProviderJob, SubmitOutcome, UpstreamProvider } from './types.js';

export const LOCAL_PROVIDER_NAME = 'local';

export type { NotAppliedOption, UnsupportedOption };

/** The spec's local mapping when the engine runs the model. */
function localMapping(modelKey: string): Extract<LocalMapping, { runs: true }> | null {
  const spec = findModel(modelKey);
  return spec?.local.runs ? spec.local : null;
}

/**
 * What the local provider cannot honour for `modelKey` with these normalised
 * wire params (the spec's local mapping says). `explicit` names the wire
 * fields the client set itself; without it, every option is taken as defaulted.
 */
export function unsupportedOptions(
  modelKey: string,
  params: Record<string, unknown>,
  explicit?: ReadonlySet<string>,
): UnsupportedOption[] {
  const local = findModel(modelKey)?.local;
  if (!local) return [{ option: 'model', value: modelKey, reason: `the local provider does not know the model ${modelKey}` }];
  if (!local.runs) return [{ option: 'model', value: modelKey, reason: local.reason }];
  return local.refuse?.(params, explicit) ?? [];
}

/** Options accepted but without a local equivalent: recorded on the output as not applied. */
export function notAppliedOptions(modelKey: string, params: Record<string, unknown>): NotAppliedOption[] {
  return localMapping(modelKey)?.notApplied?.(params) ?? [];
}

/** "0,1" → [0, 1]; anything else (already checked by normalisation) → null. */
function indexList(value: unknown, fallback: string): number[] | null {
  const text = typeof value === 'string' ? value : fallback;
  if (!/^\d{1,3}(,\d{1,3})*$/.test(text)) return null;
  return text.split(',').map(Number);
}

function enumOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T | null {
  if (value === undefined) return fallback;
  return allowed.includes(value as T) ? (value as T) : null;
}

/** The engine request for a job, or a message saying which parameter is unusable. */
export function engineRequestFor(
  modelKey: string, params: Record<string, unknown>, source: Buffer, target: Buffer,
): { ok: true; req: SwapRequest } | { ok: false; message: string } {
  const model = localMapping(modelKey);
  if (!model) return { ok: false, message: `the local provider does not run ${modelKey}` };
  const sourceIndices = indexList(params.source_faces_index, '0');
  const targetIndices = indexList(params.input_faces_index, '0');
  if (!sourceIndices) return { ok: false, message: 'source_faces_index must be a comma list of face indices' };
  if (!targetIndices) return { ok: false, message: 'input_faces_index must be a comma list of face indices' };
  // v2 numbers faces large to small (its docs); v4 swaps the largest face of each image.
  const order = enumOf<FaceOrder>(model.faceOrderParam ? params[model.faceOrderParam] : undefined, FACE_ORDERS, 'large-small');
  const interpolation = enumOf<Interpolation>(params.interpolation, ['Nearest', 'Bilinear', 'Bicubic', 'Lanczos'], 'Bilinear');
  const format = enumOf<ImageFormat>(params.image_format, ['jpeg', 'png', 'webp'], model.format);
  const quality = params.image_quality === undefined ? model.quality : Number(params.image_quality);
  const seed = params.seed === undefined ? 0 : Number(params.seed);
  if (!order) return { ok: false, message: `detection_face_order ${String(params.detection_face_order)} is not known` };
  if (!interpolation) return { ok: false, message: `interpolation ${String(params.interpolation)} is not known` };
  if (!format) return { ok: false, message: `image_format ${String(params.image_format)} is not known` };
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) return { ok: false, message: 'image_quality must be an integer 1-100' };
  if (!Number.isInteger(seed)) return { ok: false, message: 'seed must be an integer' };
  return { ok: true, req: { source, target, sourceIndices, targetIndices, order, interpolation, format, quality, seed } };
}

export interface LocalProviderOptions {
  /** A pool to share; when absent the provider creates one (sized to the cores) and closes it in close(). */
  pool?: SwapPool;
  /** Threads of the pool the provider creates; defaults to os.availableParallelism(). */
  poolSize?: number;
  /** URL inputs: byte and time limits, and hosts exempt from the private-address rule. */
  fetch?: Partial<FetchInputOptions>;
}

export interface LocalProvider extends UpstreamProvider {
  readonly pool: SwapPool;
  close(): Promise<void>;
}

export function createLocalProvider(opts: LocalProviderOptions = {}): LocalProvider {
  const ownPool = !opts.pool;
  const pool = opts.pool ?? createSwapPool({ size: opts.poolSize });
  return {
    name: LOCAL_PROVIDER_NAME,
    pool,
    async submit(job: ProviderJob, signal: AbortSignal): Promise<SubmitOutcome> {
      signal.throwIfAborted();
      const refused = unsupportedOptions(job.model, job.params);
      if (refused.length > 0) {
        return {
          kind: 'failed',
          code: 'INVALID_INPUT',
          message: `the local provider cannot honour ${refused.map((r) => `${r.option}=${String(r.value)}`).join(', ')}: ${refused[0]!.reason}`,
          detail: { unsupported: refused },
        };
      }
      const model = localMapping(job.model)!;
      let source: Buffer, target: Buffer;
      try {
        // A stored inline image comes with the job (ProviderJob.images); a URL is fetched here.
        const bytesOf = (wire: string) => job.images?.[wire]?.bytes
          ?? fetchImageInput(String(job.params[wire] ?? ''), { ...opts.fetch, signal });
        [source, target] = await Promise.all([bytesOf(model.source), bytesOf(model.target)]);
      } catch (err) {
        if (err instanceof InputFetchError) return { kind: 'failed', code: 'INVALID_INPUT', message: err.message, detail: { rule: err.rule } };
        throw err;
      }
      const built = engineRequestFor(job.model, job.params, source, target);
      if (!built.ok) return { kind: 'failed', code: 'INVALID_INPUT', message: built.message };
      signal.throwIfAborted();
      let result;
      try {
        result = await pool.swap(built.req);
      } catch (err) {
        if (err instanceof PoolBusyError) return { kind: 'retry', reason: err.message, retryAfterMs: 1000 };
        return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `the local engine failed: ${(err as Error).message}` };
      }
      if (!result.ok) return { kind: 'failed', code: result.code, message: result.message };
      return {
        kind: 'completed',
        output: {
          bytes: result.bytes,
          mimeType: result.mimeType,
          upstream: {
            provider: LOCAL_PROVIDER_NAME,
            faces: result.faces,
            pairs: result.pairs,
            timingsMs: result.timingsMs,
            notApplied: notAppliedOptions(job.model, job.params),
          },
        },
      };
    },
    async poll(): Promise<PollOutcome> {
      return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the local provider answers at submission; there is nothing to poll' };
    },
    async close() {
      if (ownPool) await pool.close();
    },
  };
}
