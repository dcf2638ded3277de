// Scripted misbehaviour, so every failure path of a client can be exercised
// on demand, in process or over HTTP (POST /__emulator/faults).

import { randomUUID } from 'node:crypto';
import { findModel } from './contract.js';

export interface FaultMatch {
  /** Model slug ("faceswap-v4", "ai-body-swap", ...) or the workflow id. */
  model?: string;
  /** Exact request path, or a prefix when it ends with "*" (e.g. "/v2/requests/*"). */
  path?: string;
  /** HTTP method; any when left out. */
  method?: string;
}

export type FaultStatus = 400 | 401 | 403 | 404 | 406 | 429 | 500 | 502 | 503 | 504;

/** Answers a matching request with an error (and/or delays it) instead of serving it. */
export interface RequestFault {
  match?: FaultMatch;
  /** How many matching requests it affects; default 1. */
  times?: number | 'always';
  /** Hold the request this long first (a slow upstream); alone, the request is then served normally. */
  delayMs?: number;
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

/** Makes the next matching async submission (queue or workflow) end FAILED. */
export interface OutcomeFault {
  match?: FaultMatch;
  times?: number | 'always';
  outcome: 'FAILED';
  /** Default 'content blocked by RAI policy'. */
  error?: string;
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
}

export class FaultBook {
  private requestFaults: Armed<RequestFault>[] = [];
  private outcomeFaults: Armed<OutcomeFault>[] = [];

  add(fault: Fault): string {
    checkFault(fault);
    const id = randomUUID();
    const remaining = fault.times === 'always' ? Infinity : (fault.times ?? 1);
    if (isOutcomeFault(fault)) this.outcomeFaults.push({ id, fault, remaining });
    else this.requestFaults.push({ id, fault, remaining });
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

  takeOutcomeFault(req: RequestInfo): OutcomeFault | undefined {
    return take(this.outcomeFaults, req);
  }
}

function take<F extends Fault>(list: Armed<F>[], req: RequestInfo): F | undefined {
  const index = list.findIndex((a) => matches(a.fault.match, req));
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

export function isOutcomeFault(fault: Fault): fault is OutcomeFault {
  return 'outcome' in fault;
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
  if ('outcome' in f) {
    if (f.outcome !== 'FAILED') throw new TypeError('outcome must be "FAILED"');
    return;
  }
  const response = f.response as RequestFault['response'];
  if (response === undefined && f.delayMs === undefined) throw new TypeError('a fault needs a response, a delayMs or an outcome');
  if (response !== undefined && !(Number.isInteger(response.status) && response.status >= 400 && response.status <= 599)) {
    throw new TypeError('response.status must be an HTTP error status');
  }
}
