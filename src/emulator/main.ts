// Standalone emulator: `npm run emulator`. Point the service at the printed URL
// (and its key) to run everything without a Segmind account.

import { startEmulator } from './server.js';

const port = Number(process.env.EMULATOR_PORT ?? 8787);
const host = process.env.EMULATOR_HOST ?? '127.0.0.1';
const apiKey = process.env.EMULATOR_API_KEY ?? 'emulator-key';
const publicUrl = process.env.EMULATOR_PUBLIC_URL || undefined;

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`EMULATOR_PORT must be a port number, got ${process.env.EMULATOR_PORT}`);
  process.exit(1);
}

const emulator = await startEmulator({ host, port, apiKey, publicUrl });
// A key from the environment is not echoed: someone may have reused a real one.
const keyNote = process.env.EMULATOR_API_KEY ? 'key from EMULATOR_API_KEY' : `key '${apiKey}'`;
console.log(`Segmind emulator listening on ${emulator.url} (${keyNote})`);
console.log(`control: POST|GET|DELETE ${emulator.url}/__emulator/faults, GET|DELETE ${emulator.url}/__emulator/stats`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
