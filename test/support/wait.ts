// Waiting and time in tests. A test waits for a condition, never for a fixed time: the
// deadline is only how long to keep trying before failing, so it is generous
// (a machine ten times slower than a quiet one still passes) and a failure says
// what was seen so far.

/** How long a condition may take before the test fails. */
export const PATIENCE_MS = 120_000;

/** How long a child process (tsx compiling on a busy machine) may take to print its ready line. */
export const PROCESS_START_MS = 120_000;

/**
 * Polls `check` until it returns a value other than undefined/false; fails after
 * `timeoutMs` with `what()`, which should say what was seen.
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: () => string | Promise<string>,
  { timeoutMs = PATIENCE_MS, everyMs = 20 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await what()}`);
    await pause(everyMs);
  }
}

/**
 * Lets `ms` pass. Only for checks that something does NOT happen within a time
 * (a slow machine can only make such a check pass, never fail), and for pacing
 * a test's own actions: never before asserting that something did happen.
 */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A clock that moves only when a test moves it (the emulator's `clock` option reads it). */
export function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}
