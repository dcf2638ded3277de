// CORS for browser apps on other origins (CORS_ORIGINS), by the `cors` package:
// a preflight (OPTIONS) is answered 204 with the methods and the headers asked for;
// every response to a listed origin carries Access-Control-Allow-Origin for it, and
// none to any other origin. No credentials: the API reads only the bearer header.
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

/**
 * Adds the CORS headers to `res`; true when the request was a preflight, now
 * answered. Null when no origin is allowed (CORS_ORIGINS unset): nothing to add.
 */
export function corsHandler(origins: readonly string[]): ((req: IncomingMessage, res: ServerResponse) => boolean) | null {
  if (origins.length === 0) return null;
  const middleware = cors({
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'POST'],
    // Readable by the app: Retry-After of a 503.
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  });
  return (req, res) => {
    // With static options the middleware runs synchronously: next() now, or the preflight answered.
    let passed = false;
    middleware(req, res, () => (passed = true));
    return !passed;
  };
}
