// One log line, two metrics and (with tracing on) one client span per upstream
// HTTP call: submit, poll, output download, credit reading. The endpoint is
// logged as a path template (never a full URL: poll and output URLs come from
// the upstream and may carry tokens), with no header and no body.
import { componentLogger } from '../../util/logger.js';
import { upstreamLatency, upstreamResponses } from '../../util/metrics.js';
import { SpanKind, spanFailed, withSpan } from '../../util/tracing.js';

const log = componentLogger('upstream');

export interface UpstreamCallInfo {
  method: 'GET' | 'POST';
  /** A path template: "/v1/faceswap-v4", "/v2/requests/:id/status", "output", … */
  endpoint: string;
  phase: 'submit' | 'poll' | 'download' | 'credits';
  model?: string;
  jobId?: string;
  attempt?: number;
}

/** What came back: an HTTP status, or none (network error, timeout). */
export type CallResult = { status: number | null };

/** Runs one upstream call inside its span, then logs and counts it. */
export async function observeUpstreamCall<T>(info: UpstreamCallInfo, call: () => Promise<T>, statusOf: (result: T) => number | null): Promise<T> {
  const started = performance.now();
  let status: number | null = null;
  let threw = false;
  try {
    return await withSpan(`upstream ${info.method} ${info.endpoint}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': info.method, 'url.template': info.endpoint, 'swapyard.upstream.phase': info.phase,
        ...(info.model ? { 'swapyard.job.model': info.model } : {}), ...(info.jobId ? { 'swapyard.job.id': info.jobId } : {}),
        ...(info.attempt ? { 'http.request.resend_count': info.attempt - 1 } : {}),
      },
    }, async (span) => {
      const result = await call();
      status = statusOf(result);
      if (status !== null) span?.setAttribute('http.response.status_code', status);
      if (status === null || status >= 400) spanFailed(span, status === null ? 'no answer' : `HTTP ${status}`);
      return result;
    });
  } catch (err) {
    threw = true;
    throw err;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    upstreamLatency.observe({ model: info.model ?? 'none', phase: info.phase }, seconds);
    upstreamResponses.inc({ phase: info.phase, code: status === null ? (threw ? 'aborted' : 'network') : String(status) });
    if (log.isLevelEnabled('info')) {
      log.info({
        endpoint: info.endpoint, method: info.method, phase: info.phase, model: info.model, jobId: info.jobId, attempt: info.attempt,
        status: status ?? (threw ? 'aborted' : 'network'), durationMs: Math.round(seconds * 100_000) / 100,
      }, 'upstream call');
    }
  }
}
