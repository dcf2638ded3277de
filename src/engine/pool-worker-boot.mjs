// Worker-thread entry for the TypeScript engine: Node 20 does not apply
// `--import tsx` to a worker's own entry file, so register tsx's loader here,
// then load the real worker (pool-worker.ts).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
