// The offline sample faces: @vladmandic/face-api's demo group photos, read
// from node_modules (never copied into the repo).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

const require = createRequire(import.meta.url);

export const SAMPLE_COUNT = 6;

/** Faces the engine finds in sample1..6.jpg (measured; see docs/LOCAL-ENGINE.md). */
export const SAMPLE_FACE_COUNTS = [3, 3, 3, 4, 5, 4] as const;

export function samplePath(n: number): string {
  // face-api's package.json is exported; its demo folder sits next to it.
  return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', `sample${n}.jpg`);
}

export function sample(n: number): Buffer {
  return readFileSync(samplePath(n));
}

/** A sample scaled to `width` px wide (JPEG q95). */
export async function sampleAt(n: number, width: number): Promise<Buffer> {
  return sharp(sample(n)).resize(width).jpeg({ quality: 95 }).toBuffer();
}

/** A plain grey picture with no face in it. */
export async function faceless(width = 320, height = 240): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 128, g: 140, b: 150 } } }).png().toBuffer();
}
