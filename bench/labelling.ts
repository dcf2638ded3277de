// What the synthetic-media label costs per output (issue 20: under 20 ms for
// a 1024 px image): labelOutput on a photo of `--size` px in each container,
// XMP only (the default) and XMP + a signed C2PA manifest, beside
// what the road not taken costs (sharp's withXmp, which re-encodes).
// In process, no database: labelling is a pure function of the bytes.
//
//   npm run bench:labelling [-- --smoke] [--size 1024] [--runs 50]
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { labelOutput } from '../src/services/labelling.js';
import { sample } from '../test/support/engine-samples.js';
import { makeC2paTestCredentials } from '../test/support/labels.js';
import { hasFlag, load, log, numArg, printJson, table, type Row } from './support/report.js';
import { summarize, type Summary } from './support/stats.js';

const smoke = hasFlag('smoke');
const size = numArg('size', smoke ? 128 : 1024);
const runs = numArg('runs', smoke ? 3 : 50);

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGb: Math.round(totalmem() / 2 ** 30), node: process.version };
const subject = { jobId: 'RmFjZXN3YXBWNEpvYjowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=', model: 'FACESWAP_V4', provider: 'segmind',
  inputs: [{ title: 'sourceImage', sha256: 'a'.repeat(64), mimeType: 'image/jpeg' }, { title: 'targetImage', sha256: 'b'.repeat(64), mimeType: 'image/jpeg' }] };

async function time(fn: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < Math.min(3, runs); i++) await fn(); // warm-up: first calls load code and the key
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

// A real photo (face-api's demo picture), square at --size px.
const photo = sharp(sample(3)).resize(size, size, { fit: 'cover' });
const images = {
  'image/jpeg': await photo.clone().jpeg({ quality: 90 }).toBuffer(),
  'image/png': await photo.clone().png().toBuffer(),
  'image/webp': await photo.clone().webp({ quality: 90 }).toBuffer(),
} as const;
const { credentials } = await makeC2paTestCredentials();

const rows: Row[] = [];
const results: Array<{ format: string; mode: string; bytes: number; ms: Summary }> = [];
for (const [format, bytes] of Object.entries(images)) {
  const modes: Array<[string, () => Promise<unknown>]> = [
    ['XMP (labelOutput)', () => labelOutput(bytes, subject)],
    ['XMP + C2PA (labelOutput)', () => labelOutput(bytes, subject, { c2pa: credentials })],
    ['sharp withXmp re-encode (not used)', () => {
      const s = sharp(bytes).withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>');
      return (format === 'image/png' ? s.png() : format === 'image/jpeg' ? s.jpeg({ quality: 90 }) : s.webp({ quality: 90 })).toBuffer();
    }],
  ];
  for (const [mode, fn] of modes) {
    log(`${format} ${mode}`);
    const ms = await time(fn);
    results.push({ format, mode, bytes: bytes.length, ms });
    rows.push({ format, mode, 'image KB': Math.round(bytes.length / 1024), 'p50 ms': ms.p50, 'p99 ms': ms.p99, 'max ms': ms.max, load: load() });
  }
}

console.log(table(`Labelling one ${size}×${size} px output (${runs} runs each; ${machine.cpus} × ${machine.cpuModel})`, rows));
printJson('labelling', { smoke, machine, size, runs, results });
