// Scripted misbehaviour, so every failure path of a client can be exercised
// on demand, in process or over HTTP (POST /__emulator/faults). A fault hits
// the next `times` matching requests, or, with `probability`, each matching
// request with that chance, drawn from a seeded PRNG so a run is reproducible.

import { randomUUID } from 'node:crypto';
import { seededRandom } from '../util/seeded-random.js';
import { findModel } from './contract.js';

export interface FaultMatch {
  /** Model slug ("faceswap-v4", "ai-body-swap", ...) or the workflow id. */
  model?: string;
  /** Exact request path, or a prefix when it ends with "*" (e.g. "/v2/requests/*"). */
  path?: string;
  /** HTTP method; any when left out. */
  method?: string;
}

export type FaultStatus = 400 | 401 | 403 | 404 | 406 | 422 | 429 | 500 | 502 | 503 | 504;

/** What every fault kind shares: which requests, how many, how likely. */
interface FaultBase {
  match?: FaultMatch;
  /** How many matching requests it affects; default 1, or 'always' when `probability` is set. */
  times?: number | 'always';
  /**
   * Affect each matching request with this chance (0 < p ≤ 1) instead of every
   * one; the draws come from a PRNG seeded by `seed` (or by the emulator's
   * `faultSeed` and the fault's position), so the same run draws the same way.
   */
  probability?: number;
  /** Seed of this fault's draws; see `probability`. */
  seed?: number;
}

/** Answers a matching request with an error, delays it, or drops its connection, instead of serving it. */
export interface RequestFault extends FaultBase {
  /** Hold the request this long first (a slow upstream); alone, the request is then served normally. */
  delayMs?: number;
  /** Close the connection without answering (after `delayMs`, if set); the request is not served. */
  drop?: boolean;
  response?: {
    status: FaultStatus;
    /** Sent as `Retry-After: <seconds>`. */
    retryAfterSeconds?: number;
    /** Extra headers, e.g. a Retry-After HTTP-date. */
    headers?: Record<string, string>;
    /** JSON body; default `{ error: <documented meaning of the status> }`. */
    body?: unknown;
  };
}

/** Bodies a broken CDN or gateway serves under an image Content-Type (`corruptOutput`). */
export const CORRUPT_OUTPUTS = ['json', 'html', 'xml', 'empty', 'truncated'] as const;
export type CorruptOutput = (typeof CORRUPT_OUTPUTS)[number];

/**
 * Changes how the next matching submission runs (all but `corruptOutput` are
 * for async ones, queue or workflow). Any combination:
 * - `outcome: 'FAILED'` makes it end FAILED (422 on the v2 queue);
 * - `processingMs` makes its PROCESSING phase last that long (a slow upstream);
 * - `corruptOutput`: the run is accepted and billed, but its image is replaced
 *   by a JSON, HTML or XML error, an empty body, or the image cut in half,
 *   served under the image's Content-Type (the v1 answer; the async output's media URL);
 * - `namedUrls` (v2 queue): the submit answer names the request's status and
 *   result URLs on another path, `/v2/elsewhere/<id>/status` and
 *   `/v2/elsewhere/<id>`, under `statusKey` (`status_url`, the default, or
 *   `poll_url`) and `response_url`. Without `origin` the documented paths
 *   answer 404 for that request, so only a client that follows the named URLs
 *   finds it; with `origin` (e.g. a test's own server) the named URLs are on
 *   that origin instead and the documented paths serve as usual;
 * - `visibleAfterPolls`: the request answers 404 to its first N polls, as a
 *   queue whose read side lags its write side does.
 */
export interface OutcomeFault extends FaultBase {
  outcome?: 'FAILED';
  /** Default 'content blocked by RAI policy'. */
  error?: string;
  /** How long the request stays PROCESSING; default the emulator's step time. */
  processingMs?: number;
  corruptOutput?: CorruptOutput;
  namedUrls?: { origin?: string; statusKey?: 'status_url' | 'poll_url' };
  visibleAfterPolls?: number;
}

export type Fault = RequestFault | OutcomeFault;

export interface RequestInfo {
  method: string;
  path: string;
  /** Slug of the model the request concerns, when known. */
  model?: string;
}

interface Armed<F extends Fault> {
  id: string;
  fault: F;
  remaining: number;
  /** Draws in [0, 1) for a probabilistic fault. */
  random?: () => number;
}

export class FaultBook {
  private requestFaults: Armed<RequestFault>[] = [];
  private outcomeFaults: Armed<OutcomeFault>[] = [];
  private added = 0;

  /** `seed` seeds the draws of probabilistic faults that bring no seed of their own. */
  constructor(private readonly seed = 0x5eed) {}

  add(fault: Fault): string {
    checkFault(fault);
    const id = randomUUID();
    const probabilistic = fault.probability !== undefined;
    const times = fault.times ?? (probabilistic ? 'always' : 1);
    const remaining = times === 'always' ? Infinity : times;
    const random = probabilistic ? seededRandom(fault.seed ?? this.seed + this.added * 0x9e3779b9) : undefined;
    this.added += 1;
    if (isOutcomeFault(fault)) this.outcomeFaults.push({ id, fault, remaining, random });
    else this.requestFaults.push({ id, fault, remaining, random });
    return id;
  }

  clear(): void {
    this.requestFaults = [];
    this.outcomeFaults = [];
  }

  pending(): Array<Fault & { id: string; remaining: number | 'always' }> {
    return [...this.requestFaults, ...this.outcomeFaults].map((a) => ({
      ...a.fault,
      id: a.id,
      remaining: a.remaining === Infinity ? 'always' : a.remaining,
    }));
  }

  takeRequestFault(req: RequestInfo): RequestFault | undefined {
    return take(this.requestFaults, req);
  }

  /** `only`: take only an outcome fault that passes it (a sync submission has no use for the async kinds). */
  takeOutcomeFault(req: RequestInfo, only?: (fault: OutcomeFault) => boolean): OutcomeFault | undefined {
    return take(this.outcomeFaults, req, only);
  }
}

/** The first armed fault that matches and, if probabilistic, wins its draw; used up after `times`. */
function take<F extends Fault>(list: Armed<F>[], req: RequestInfo, only?: (fault: F) => boolean): F | undefined {
  const index = list.findIndex(
    (a) => matches(a.fault.match, req) && (!only || only(a.fault)) && (a.random === undefined || a.random() < a.fault.probability!),
  );
  if (index < 0) return undefined;
  const armed = list[index]!;
  armed.remaining -= 1;
  if (armed.remaining <= 0) list.splice(index, 1);
  return armed.fault;
}

function matches(match: FaultMatch | undefined, req: RequestInfo): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== req.method) return false;
  if (match.path) {
    const hit = match.path.endsWith('*') ? req.path.startsWith(match.path.slice(0, -1)) : req.path === match.path;
    if (!hit) return false;
  }
  if (match.model) {
    if (!req.model) return false;
    if (findModel(match.model)?.slug !== req.model) return false;
  }
  return true;
}

const OUTCOME_KEYS = ['outcome', 'processingMs', 'corruptOutput', 'namedUrls', 'visibleAfterPolls'] as const;

export function isOutcomeFault(fault: Fault): fault is OutcomeFault {
  return OUTCOME_KEYS.some((key) => key in fault);
}

/** Throws on a fault that could never do anything, so a typo in a test fails loudly. */
export function checkFault(fault: unknown): asserts fault is Fault {
  if (typeof fault !== 'object' || fault === null) throw new TypeError('a fault must be an object');
  const f = fault as Record<string, unknown>;
  const match = f.match as FaultMatch | undefined;
  if (match?.model !== undefined && !findModel(match.model)) throw new TypeError(`unknown model ${String(match.model)}`);
  if (f.times !== undefined && f.times !== 'always' && !(typeof f.times === 'number' && f.times >= 1)) {
    throw new TypeError('times must be a number >= 1 or "always"');
  }
  if (f.probability !== undefined && !(typeof f.probability === 'number' && f.probability > 0 && f.probability <= 1)) {
    throw new TypeError('probability must be a number in (0, 1]');
  }
  if (f.seed !== undefined && !Number.isInteger(f.seed)) throw new TypeError('seed must be an integer');
  if (OUTCOME_KEYS.some((key) => key in f)) {
    if ('response' in f || 'delayMs' in f || 'drop' in f) {
      throw new TypeError('a fault is either about the answer (response, delayMs, drop) or the outcome (outcome, processingMs, corruptOutput, namedUrls, visibleAfterPolls)');
    }
    if (f.corruptOutput !== undefined && !CORRUPT_OUTPUTS.includes(f.corruptOutput as CorruptOutput)) {
      throw new TypeError(`corruptOutput must be one of ${CORRUPT_OUTPUTS.join(', ')}`);
    }
    if (f.visibleAfterPolls !== undefined && !(Number.isInteger(f.visibleAfterPolls) && (f.visibleAfterPolls as number) >= 1)) {
      throw new TypeError('visibleAfterPolls must be an integer >= 1');
    }
    if (f.namedUrls !== undefined) {
      const named = f.namedUrls as Record<string, unknown>;
      if (typeof named !== 'object' || named === null) throw new TypeError('namedUrls must be an object');
      if (named.statusKey !== undefined && named.statusKey !== 'status_url' && named.statusKey !== 'poll_url') {
        throw new TypeError('namedUrls.statusKey must be "status_url" or "poll_url"');
      }
      if (named.origin !== undefined && !(typeof named.origin === 'string' && /^https?:\/\/[^/]+$/.test(named.origin))) {
        throw new TypeError('namedUrls.origin must be an origin such as "http://127.0.0.1:9000"');
      }
    }
    if (f.outcome !== undefined && f.outcome !== 'FAILED') throw new TypeError('outcome must be "FAILED"');
    if (f.processingMs !== undefined && !(Number.isInteger(f.processingMs) && (f.processingMs as number) >= 0)) {
      throw new TypeError('processingMs must be an integer >= 0');
    }
    return;
  }
  const response = f.response as RequestFault['response'];
  if (response === undefined && f.delayMs === undefined && f.drop === undefined) {
    throw new TypeError('a fault needs a response, a delayMs, drop, an outcome or a processingMs');
  }
  if (f.drop !== undefined && typeof f.drop !== 'boolean') throw new TypeError('drop must be a boolean');
  if (f.drop === true && response !== undefined) throw new TypeError('a dropped connection has no response');
  if (f.delayMs !== undefined && !(Number.isInteger(f.delayMs) && (f.delayMs as number) >= 0)) {
    throw new TypeError('delayMs must be an integer >= 0');
  }
  if (response !== undefined && !(Number.isInteger(response.status) && response.status >= 400 && response.status <= 599)) {
    throw new TypeError('response.status must be an HTTP error status');
  }
}
