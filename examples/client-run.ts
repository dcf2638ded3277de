// The typed client (src/client): run a swap and wait for it, as Replicate's
// `run` does, with the API's errors as values. Run it while `npm start` is running:
//   npx tsx examples/client-run.ts
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { createClient } from '../src/client/index.js';

const swapyard = createClient({
  url: process.env.SWAPYARD_URL ?? 'http://127.0.0.1:4000',
  apiKey: process.env.SWAPYARD_API_KEY ?? readFileSync('.swapyard/api-key', 'utf8').trim(),
  webSocketImpl: WebSocket, // Node 20 has no global WebSocket; browsers need nothing here
});

const result = await swapyard.run(
  'FACESWAP_V4',
  { sourceImage: 'https://example.com/face.jpg', targetImage: 'https://example.com/photo.jpg', swapType: 'FACE', provider: 'SEGMIND' },
  { onEvent: (e) => console.log(e.status, e.createdAt) },
);
if (result.ok) console.log('done:', result.value.output?.url, 'seed', result.value.seed, 'cost', result.value.cost.charged?.usd);
else console.log(`${result.error.__typename}: ${result.error.message}`);

const page = await swapyard.jobs({ first: 5, filter: { status: ['COMPLETED'] } });
if (page.ok) for (const { node } of page.value.edges) console.log(node.id, node.model, node.status);
await swapyard.close();
