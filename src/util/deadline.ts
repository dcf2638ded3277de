// One AbortSignal for a caller's signal and a deadline. The listener on the
// caller's signal is removed by dispose(): a long-lived worker signal must
// not collect one listener per request.

export interface Deadline {
  signal: AbortSignal;
  /** True once the deadline (not the caller) aborted the signal. */
  readonly timedOut: boolean;
  dispose(): void;
}

export function deadline(timeoutMs: number, caller?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  const onAbort = () => controller.abort(caller?.reason);
  caller?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onAbort);
    },
  };
}
