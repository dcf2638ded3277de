// A response is at most MAX_RESPONSE_BYTES of JSON: past it the client gets one
// typed error (RESPONSE_TOO_LARGE, with the limit and the size) instead of the body.
// The operation limits keep what a query may build in memory small; this bounds
// what is sent, e.g. a history page selecting large inline outputs (output.base64).
import type { FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import { maskResult } from './error-masking.js';

export const RESPONSE_TOO_LARGE = 'RESPONSE_TOO_LARGE';

function tooLarge(maxBytes: number, bytes: number | null): GraphQLFormattedError {
  return {
    message: `The response would be ${bytes === null ? 'too large to build' : `${bytes} bytes`}; the limit is ${maxBytes} bytes (MAX_RESPONSE_BYTES). `
      + 'Select fewer fields or a smaller page.',
    extensions: { code: RESPONSE_TOO_LARGE, limit: 'responseBytes', max: maxBytes, actual: bytes },
  };
}

/** The JSON of `value`, or of the RESPONSE_TOO_LARGE error when it is longer than `maxBytes`. */
export function boundedJson(value: unknown, maxBytes: number): { json: string; tooLarge: boolean } {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    // V8 refuses strings past ~512 MB.
    if (!(err instanceof RangeError)) throw err;
    return { json: JSON.stringify({ errors: [tooLarge(maxBytes, null)] }), tooLarge: true };
  }
  // A UTF-8 byte is at most 3 per UTF-16 unit: most responses need no count.
  const bytes = json.length * 3 <= maxBytes ? json.length : Buffer.byteLength(json);
  if (bytes <= maxBytes) return { json, tooLarge: false };
  return { json: JSON.stringify({ errors: [tooLarge(maxBytes, bytes)] }), tooLarge: true };
}

/** Apollo's stringifyResult. */
export function boundedStringify(maxBytes: number): (value: FormattedExecutionResult) => string {
  return (value) => boundedJson(value, maxBytes).json;
}

/**
 * graphql-ws's onNext: each result masked (error-masking.ts) and bounded. A result
 * shared by many subscribers (shared-subscriptions.ts) is measured once.
 */
type Result = { errors?: readonly GraphQLError[] };

export function boundedWsResults(maxBytes: number): (result: Result) => FormattedExecutionResult {
  const shaped = new WeakMap<Result, FormattedExecutionResult>();
  return (result) => {
    let out = shaped.get(result);
    if (!out) {
      const masked = maskResult(result);
      const { json, tooLarge } = boundedJson(masked, maxBytes);
      out = tooLarge ? (JSON.parse(json) as FormattedExecutionResult) : masked;
      shaped.set(result, out);
    }
    return out;
  };
}
