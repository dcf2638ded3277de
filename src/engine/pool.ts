// A pool of worker threads, each with its own engine (Human + models loaded
// once per thread). Tasks wait in one FIFO queue and go to the first idle
// thread. A thread that dies fails its current task and is replaced. close()
// refuses new tasks, fails the queued ones, lets running ones finish and then
// ends the threads.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FaceOrder } from './detect.js';
import type { FaceDescription } from './embed.js';
import type { DetectSummary } from './engine.js';
import type { SwapRequest, SwapResult } from './swap.js';

export type PoolRequest =
  | { op: 'swap'; id: number; req: SwapRequest }
  | { op: 'detect'; id: number; image: Buffer; order: FaceOrder }
  | { op: 'embed'; id: number; image: Buffer; box: [number, number, number, number] }
  | { op: 'describe'; id: number; image: Buffer; box: [number, number, number, number] };

export type PoolResponse =
  | { kind: 'ready' }
  | { kind: 'done'; id: number; result: unknown }
  | { kind: 'error'; id: number; message: string };

export interface SwapPoolOptions {
  /** Threads; defaults to os.availableParallelism(). */
  size?: number;
  /** Most tasks waiting for a thread; beyond it submissions are refused. Default 256. */
  maxQueue?: number;
  /** Load the description (embedding) model too (the bench's quality figure). */
  description?: boolean;
  /** Per-thread memo of decoded images and their faces (benchmarks); 0 (default) = off. */
  memo?: number;
}

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
}

export class PoolBusyError extends Error {
  override readonly name = 'PoolBusyError';
}

interface Task {
  message: Omit<PoolRequest, 'id'>;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task: (Task & { id: number }) | null;
}

export interface SwapPool {
  readonly size: number;
  /** Resolves when every thread has its models loaded. */
  ready(): Promise<void>;
  swap(req: SwapRequest): Promise<SwapResult>;
  detect(image: Buffer, order: FaceOrder): Promise<DetectSummary>;
  /** Needs the pool created with `description: true`. */
  embed(image: Buffer, box: [number, number, number, number]): Promise<number[] | null>;
  /** Embedding and mesh of one face (the bench's quality figures); needs `description: true`. */
  describe(image: Buffer, box: [number, number, number, number]): Promise<FaceDescription | null>;
  close(): Promise<void>;
}

/** Structured cloning turns a Buffer into a plain Uint8Array: give swap results their Buffer back. */
function revive(result: unknown): unknown {
  const r = result as { ok?: boolean; bytes?: Uint8Array };
  if (r && r.ok === true && r.bytes instanceof Uint8Array && !Buffer.isBuffer(r.bytes)) {
    return { ...r, bytes: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) };
  }
  return result;
}

const runningTs = import.meta.url.endsWith('.ts');
const workerEntry = new URL(`./pool-worker${runningTs ? '.ts' : '.js'}`, import.meta.url);
// TypeScript sources start through a small loader that registers tsx in the thread.
const workerFile = fileURLToPath(runningTs ? new URL('./pool-worker-boot.mjs', import.meta.url) : workerEntry);

export function createSwapPool(opts: SwapPoolOptions = {}): SwapPool {
  const size = Math.max(1, opts.size ?? availableParallelism());
  const maxQueue = opts.maxQueue ?? 256;
  const queue: Task[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;
  let readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  let startupError: Error | null = null;

  const allReady = () => slots.length === size && slots.every((s) => s.ready);
  const settleReady = () => {
    if (startupError) readyWaiters.forEach((w) => w.reject(startupError!));
    else if (allReady()) readyWaiters.forEach((w) => w.resolve());
    else return;
    readyWaiters = [];
  };

  function spawn(index: number): void {
    const worker = new Worker(workerFile, {
      workerData: { description: Boolean(opts.description), memo: opts.memo ?? 0, entry: workerEntry.href },
    });
    const slot: Slot = { worker, ready: false, task: null };
    slots[index] = slot;
    worker.on('message', (msg: PoolResponse) => {
      if (msg.kind === 'ready') {
        slot.ready = true;
        settleReady();
        pump();
        return;
      }
      const task = slot.task;
      if (!task || task.id !== msg.id) return;
      slot.task = null;
      if (msg.kind === 'done') task.resolve(revive(msg.result));
      else task.reject(new Error(`engine error: ${msg.message}`));
      pump();
    });
    const onDeath = (err: Error) => {
      if (slots[index] !== slot) return;
      const task = slot.task;
      slot.task = null;
      if (task) task.reject(new Error(`the engine thread died: ${err.message}`));
      if (!slot.ready && !closed) {
        // Dying before the models loaded is a setup problem, not a bad image: do not respawn forever.
        startupError = new Error(`an engine thread failed to start: ${err.message}`);
        settleReady();
        queue.splice(0).forEach((t) => t.reject(startupError!));
        return;
      }
      if (!closed) spawn(index);
    };
    worker.on('error', onDeath);
    worker.on('exit', (code) => onDeath(new Error(`exit code ${code}`)));
  }

  function pump(): void {
    for (const slot of slots) {
      if (!slot || !slot.ready || slot.task) continue;
      const task = queue.shift();
      if (!task) return;
      const id = nextId++;
      slot.task = { ...task, id };
      slot.worker.postMessage({ ...task.message, id });
    }
  }

  function run<T>(message: Omit<PoolRequest, 'id'>): Promise<T> {
    if (closed) return Promise.reject(new PoolClosedError('the swap pool is closed'));
    if (startupError) return Promise.reject(startupError);
    if (queue.length >= maxQueue) return Promise.reject(new PoolBusyError(`the swap queue is full (${maxQueue} waiting)`));
    return new Promise<T>((resolve, reject) => {
      queue.push({ message, resolve: resolve as (v: unknown) => void, reject });
      pump();
    });
  }

  for (let i = 0; i < size; i++) spawn(i);

  return {
    size,
    ready: () => new Promise<void>((resolve, reject) => {
      readyWaiters.push({ resolve, reject });
      settleReady();
    }),
    swap: (req) => run<SwapResult>({ op: 'swap', req } as Omit<PoolRequest, 'id'>),
    detect: (image, order) => run<DetectSummary>({ op: 'detect', image, order } as Omit<PoolRequest, 'id'>),
    embed: (image, box) => run<number[] | null>({ op: 'embed', image, box } as Omit<PoolRequest, 'id'>),
    describe: (image, box) => run<FaceDescription | null>({ op: 'describe', image, box } as Omit<PoolRequest, 'id'>),
    async close() {
      if (closed) return;
      closed = true;
      queue.splice(0).forEach((t) => t.reject(new PoolClosedError('the swap pool closed before this task ran')));
      await Promise.all(slots.map(async (slot) => {
        while (slot.task) await new Promise((r) => setTimeout(r, 10));
        await slot.worker.terminate();
      }));
    },
  };
}
