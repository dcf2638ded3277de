// Async (queue and workflow) requests. Their state is a pure function of the
// clock: QUEUED for one step, PROCESSING for the next, then done. No timers,
// so nothing keeps the process alive and tests can't race a background tick.
// Paced by polls (`pacedByPolls`), a state is also kept until a poll has
// reported it, so a client on a slow machine sees every state, never skips one.

import type { EmulatedModel } from './contract.js';
import type { CorruptOutput } from './faults.js';
import type { RenderedImage } from './image.js';

export type AsyncStatus = 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED';

export interface AsyncRequest {
  id: string;
  model: EmulatedModel;
  mode: 'queue' | 'workflow';
  createdAt: number;
  stepMs: number;
  /** How long it stays PROCESSING, when an outcome fault made it slow; default `stepMs`. */
  processingMs?: number;
  image: RenderedImage;
  /** The client asked for base64 output (queue only). */
  base64: boolean;
  /** Set when an outcome fault made it fail. */
  failure?: string;
  /** An outcome fault replaced its output media by this kind of non-image body (faults.ts). */
  corruptOutput?: CorruptOutput;
  /** Polled only at the URLs its submit answer named (/v2/elsewhere/…); the documented paths answer 404. */
  elsewhere?: boolean;
  /** Polls still to answer 404 (an outcome fault's visibleAfterPolls). */
  hiddenPolls?: number;
  /** Paced by polls: the state reached (0 QUEUED, 1 PROCESSING, 2 done), since when, and whether a poll reported it. */
  paced?: { state: 0 | 1 | 2; since: number; reported: boolean };
}

const STATES = ['QUEUED', 'PROCESSING'] as const;

export class RequestStore {
  private readonly requests = new Map<string, AsyncRequest>();
  private lastSweep = 0;

  constructor(
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
    private readonly pacedByPolls = false,
  ) {}

  add(request: AsyncRequest): void {
    if (this.pacedByPolls) request.paced = { state: 0, since: request.createdAt, reported: false };
    this.requests.set(request.id, request);
  }

  /** The request, unless it is unknown or its retention has passed. */
  get(id: string): AsyncRequest | undefined {
    this.sweep();
    const request = this.requests.get(id);
    if (!request) return undefined;
    if (this.now() >= this.expiresAt(request)) {
      this.requests.delete(id);
      return undefined;
    }
    return request;
  }

  status(request: AsyncRequest): AsyncStatus {
    const paced = request.paced;
    if (paced) {
      // A state lasts its time and until a poll has reported it; the next one's time starts then.
      for (let state = paced.state; state !== 2 && paced.reported && this.now() - paced.since >= stateTime(request, state); state = paced.state) {
        paced.state = state === 0 ? 1 : 2;
        paced.since = this.now();
        paced.reported = false;
      }
      if (paced.state !== 2) return STATES[paced.state];
    } else {
      const elapsed = this.now() - request.createdAt;
      if (elapsed < request.stepMs) return 'QUEUED';
      if (elapsed < request.stepMs + processingTime(request)) return 'PROCESSING';
    }
    return request.failure !== undefined ? 'FAILED' : 'COMPLETED';
  }

  /** The status a poll answers with: paced by polls, that poll has now reported it. */
  poll(request: AsyncRequest): AsyncStatus {
    const status = this.status(request);
    if (request.paced) request.paced.reported = true;
    return status;
  }

  /** Server-side compute time, in seconds, as the vendor reports it. */
  inferenceTime(request: AsyncRequest): number {
    return processingTime(request) / 1000;
  }

  clear(): void {
    this.requests.clear();
  }

  private expiresAt(request: AsyncRequest): number {
    if (request.paced) return request.paced.state < 2 ? Infinity : request.paced.since + this.retentionMs;
    return request.createdAt + request.stepMs + processingTime(request) + this.retentionMs;
  }

  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [id, request] of this.requests) {
      if (now >= this.expiresAt(request)) this.requests.delete(id);
    }
  }
}

function processingTime(request: AsyncRequest): number {
  return request.processingMs ?? request.stepMs;
}

function stateTime(request: AsyncRequest, state: 0 | 1): number {
  return state === 0 ? request.stepMs : processingTime(request);
}
