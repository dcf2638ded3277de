// Async (queue and workflow) requests. Their state is a pure function of the
// clock: QUEUED for one step, PROCESSING for the next, then done. No timers,
// so nothing keeps the process alive and tests can't race a background tick.

import type { EmulatedModel } from './contract.js';
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
}

export class RequestStore {
  private readonly requests = new Map<string, AsyncRequest>();
  private lastSweep = 0;

  constructor(
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  add(request: AsyncRequest): void {
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
    const elapsed = this.now() - request.createdAt;
    if (elapsed < request.stepMs) return 'QUEUED';
    if (elapsed < request.stepMs + processingTime(request)) return 'PROCESSING';
    return request.failure !== undefined ? 'FAILED' : 'COMPLETED';
  }

  /** Server-side compute time, in seconds, as the vendor reports it. */
  inferenceTime(request: AsyncRequest): number {
    return processingTime(request) / 1000;
  }

  clear(): void {
    this.requests.clear();
  }

  private expiresAt(request: AsyncRequest): number {
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
