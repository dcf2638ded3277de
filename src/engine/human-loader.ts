// Loads @vladmandic/human for this thread, fully offline: the node-wasm build
// (the default node entry needs tfjs-node, which does not install here), the
// wasm binaries from the local @tensorflow/tfjs-backend-wasm/dist/, and model
// files read from the package's models/ folder through a file:// load router
// (the wasm backend has no file system IO of its own). Every model the engine
// does not use is switched off explicitly: Human merges its config deeply, so
// anything left out keeps the library default (which enables many models).
//
// One Human per thread: a wasm instance runs one inference at a time, so the
// pool (pool.ts) gives each worker thread its own.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config, Human } from '@vladmandic/human';

const require = createRequire(import.meta.url);

export interface HumanOptions {
  /** Also load the face description (embedding) model: the quality figure needs it, swaps do not. */
  description?: boolean;
  /** Largest number of faces reported per image. */
  maxFaces?: number;
}

/** The folder holding Human's model JSON and weight files. */
export function humanModelDir(): string {
  return join(humanDistDir(), '..', 'models');
}

/** Human's dist/ folder. Its `exports` map hides the node-wasm build, so it is found by file path. */
function humanDistDir(): string {
  return dirname(require.resolve('@vladmandic/human'));
}

function wasmDir(): string {
  // tfjs-backend-wasm's package.json is not exported; its main file lives in dist/.
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
}

type TfModule = Human['tf'];
const routerInstalled = new WeakSet<object>();

/** A tfjs IO handler that reads a graph model (model.json + its weight shards) from disk. */
function fileLoadRouter(url: string | string[]) {
  if (typeof url !== 'string' || !url.startsWith('file://')) return null;
  const path = decodeURIComponent(new URL(url).pathname);
  return {
    load: async () => {
      const json = JSON.parse(await readFile(path, 'utf8')) as {
        modelTopology: unknown; format?: string; generatedBy?: string; convertedBy?: string;
        weightsManifest: Array<{ paths: string[]; weights: unknown[] }>;
      };
      const weightSpecs: unknown[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) buffers.push(await readFile(join(dirname(path), p)));
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs,
        weightData,
      };
    },
  };
}

function engineConfig(opts: HumanOptions): Partial<Config> {
  const off = { enabled: false };
  return {
    backend: 'wasm',
    wasmPath: wasmDir(),
    wasmPlatformFetch: false,
    modelBasePath: pathToFileURL(humanModelDir()).href + '/',
    cacheModels: false,
    debug: false,
    async: false,
    warmup: 'none',
    // Every call is a fresh photo: never reuse boxes from an earlier call.
    cacheSensitivity: 0,
    skipAllowed: false,
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: {
        enabled: true, modelPath: 'blazeface.json', rotation: false, maxDetected: opts.maxFaces ?? 20,
        minConfidence: 0.3, minSize: 16, iouThreshold: 0.1, skipFrames: 0, skipTime: 0,
        // The embedding (embed.ts) is computed from the face crop Human returns.
        return: Boolean(opts.description),
      },
      mesh: { enabled: true, modelPath: 'facemesh.json' },
      attention: off,
      iris: off,
      description: opts.description ? { enabled: true, modelPath: 'faceres.json', skipFrames: 0, skipTime: 0, minConfidence: 0 } : off,
      emotion: off,
      antispoof: off,
      liveness: off,
      gear: off,
    },
    body: off,
    hand: off,
    object: off,
    gesture: off,
    segmentation: off,
  } as unknown as Partial<Config>;
}

/**
 * Return (or stop returning) the aligned face crops from detect(), which
 * embedFace feeds to the description model itself. Human's own description
 * step stays off: its output lacks the embedding (see embed.ts).
 */
export function setDescription(human: Human, on: boolean): void {
  human.config.face.detector!.return = on;
}

/** A loaded Human on the wasm backend, models in memory. Call once per thread. */
export async function loadHuman(opts: HumanOptions = {}): Promise<Human> {
  const mod = require(join(humanDistDir(), 'human.node-wasm.js')) as { Human: new (c?: Partial<Config>) => Human };
  const human = new mod.Human(engineConfig(opts));
  const tf: TfModule = human.tf;
  if (!routerInstalled.has(tf as object)) {
    tf.io.registerLoadRouter(fileLoadRouter as Parameters<TfModule['io']['registerLoadRouter']>[0]);
    routerInstalled.add(tf as object);
  }
  await human.load();
  await human.tf.ready();
  // The description model is loaded but never run by detect(): swaps do not
  // need it, and embedFace runs it on the one face it wants.
  human.config.face.description!.enabled = false;
  setDescription(human, false);
  return human;
}
