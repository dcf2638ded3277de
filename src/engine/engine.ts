// One thread's engine: Human with its models loaded, the mesh topology, and
// swapFaces bound to them. Create once per thread (pool.ts does, per worker).
import { detectFaces, orderFaces, type FaceOrder } from './detect.js';
import { describeFace, embedFace, type FaceDescription } from './embed.js';
import { loadHuman, type HumanOptions } from './human-loader.js';
import { decodeImage } from './image-io.js';
import { swapFaces, type EngineContext, type SwapRequest, type SwapResult } from './swap.js';
import { buildTopology } from './topology.js';

export interface DetectSummary {
  width: number;
  height: number;
  faces: Array<{ box: [number, number, number, number]; score: number; yaw: number }>;
  ms: number;
}

export interface Engine {
  context: EngineContext;
  swap(req: SwapRequest): Promise<SwapResult>;
  /** Decode and detect only, numbered in `order` (tests, bench). */
  detect(image: Buffer, order: FaceOrder): Promise<DetectSummary>;
  /** Identity embedding of the face in `box` (needs `description: true`); null when no face is there. */
  embed(image: Buffer, box: [number, number, number, number]): Promise<number[] | null>;
  /** Embedding and mesh of the face in `box` from one detection (needs `description: true`); null when no face is there. */
  describe(image: Buffer, box: [number, number, number, number]): Promise<FaceDescription | null>;
}

export interface EngineOptions extends HumanOptions {
  /** Remember this many decoded images and their faces (see EngineContext.memo); 0 (default) = off. */
  memo?: number;
}

export async function createEngine(opts: EngineOptions = {}): Promise<Engine> {
  const human = await loadHuman(opts);
  const context: EngineContext = { human, topology: buildTopology(human) };
  if (opts.memo) {
    context.memo = new Map();
    context.memoSize = opts.memo;
  }
  return {
    context,
    swap: (req) => swapFaces(context, req),
    async detect(image, order) {
      const img = await decodeImage(image);
      const t0 = performance.now();
      const faces = orderFaces(await detectFaces(human, img), order);
      return {
        width: img.width,
        height: img.height,
        faces: faces.map((f) => ({ box: f.box, score: f.score, yaw: f.yaw })),
        ms: performance.now() - t0,
      };
    },
    async embed(image, box) {
      return embedFace(human, await decodeImage(image), box);
    },
    async describe(image, box) {
      return describeFace(human, await decodeImage(image), box);
    },
  };
}
