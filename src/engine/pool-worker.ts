// A pool thread: loads Human and its models once, then serves swap and detect
// tasks one at a time (a wasm instance runs one inference at a time).
import { parentPort, workerData } from 'node:worker_threads';
import { createEngine } from './engine.js';
import type { PoolRequest, PoolResponse } from './pool.js';

const port = parentPort;
if (!port) throw new Error('pool-worker.ts must run in a worker thread');

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

const data = (workerData ?? {}) as { description?: boolean; memo?: number };
const engine = await createEngine({ description: Boolean(data.description), memo: data.memo ?? 0 });
port.postMessage({ kind: 'ready' } satisfies PoolResponse);

port.on('message', async (msg: PoolRequest) => {
  try {
    if (msg.op === 'swap') {
      const result = await engine.swap({ ...msg.req, source: asBuffer(msg.req.source), target: asBuffer(msg.req.target) });
      port.postMessage({ kind: 'done', id: msg.id, result } satisfies PoolResponse);
    } else if (msg.op === 'describe') {
      const result = await engine.describe(asBuffer(msg.image), msg.box);
      port.postMessage({ kind: 'done', id: msg.id, result } satisfies PoolResponse);
    } else if (msg.op === 'embed') {
      const result = await engine.embed(asBuffer(msg.image), msg.box);
      port.postMessage({ kind: 'done', id: msg.id, result } satisfies PoolResponse);
    } else {
      const result = await engine.detect(asBuffer(msg.image), msg.order);
      port.postMessage({ kind: 'done', id: msg.id, result } satisfies PoolResponse);
    }
  } catch (err) {
    port.postMessage({ kind: 'error', id: msg.id, message: (err as Error)?.stack ?? String(err) } satisfies PoolResponse);
  }
});
