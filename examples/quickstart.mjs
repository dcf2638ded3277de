// Creates a face swap, watches it over a subscription, then reads history.
// Run it while `npm start` is running:  node examples/quickstart.mjs
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const API = process.env.SWAPYARD_URL ?? 'http://127.0.0.1:4000/graphql';
const KEY = process.env.SWAPYARD_API_KEY ?? readFileSync('.swapyard/api-key', 'utf8').trim();

async function gql(query, variables) {
  const res = await fetch(API, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors, null, 2));
  return body.data;
}

// 1. Submit a job. Bad input comes back as an InvalidInputError, not an exception.
const { createFaceswapV2Job: created } = await gql(
  `mutation($input: CreateFaceswapV2JobInput!) {
     createFaceswapV2Job(input: $input) {
       __typename
       ... on FaceswapV2Job { id status faceRestore sourceImage { source url } targetImage { source url } parameters }
       ... on InvalidInputError { field rule message }
     }
   }`,
  // SEGMIND: Segmind itself with SEGMIND_API_KEY, its emulator without (placeholder images; these URLs need not exist).
  { input: { sourceImage: 'https://example.com/face.jpg', targetImage: 'https://example.com/group.jpg', faceRestore: 'GFPGAN_V1_4', provider: 'SEGMIND' } },
);
console.log('created:', created);

// 2. Watch it: the subscription replays the job's transitions so far, then streams new ones.
const ws = createClient({ url: API.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` } });
await new Promise((resolve, reject) => {
  ws.subscribe(
    { query: `subscription($id: ID!) { jobUpdated(id: $id) { status createdAt job { output { url sha256 width height } failure { code message } } } }`, variables: { id: created.id } },
    {
      next: ({ data, errors }) => {
        if (errors) return reject(new Error(JSON.stringify(errors)));
        const e = data.jobUpdated;
        console.log(`${e.createdAt}  ${e.status}`, e.job.output ?? e.job.failure ?? '');
        if (['COMPLETED', 'FAILED', 'CANCELED'].includes(e.status)) resolve();
      },
      error: reject,
      complete: resolve,
    },
  );
});
await ws.dispose();

// 3. History: newest first, filterable, paginated by cursor.
const { jobs } = await gql(`{ jobs(first: 5, filter: { model: [FACESWAP_V2] }) {
  edges { node { id model status seed createdAt } } pageInfo { hasNextPage endCursor } } }`);
console.table(jobs.edges.map((e) => e.node));
