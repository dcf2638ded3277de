// A real face swap on this machine's CPU, no key needed: the face of one
// offline sample photo onto a face of another, with the local engine (the
// default provider when SEGMIND_API_KEY is not set). Writes swap.jpg.
// Run it while `npm start` is running:  node examples/local-swap.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const API = process.env.SWAPYARD_URL ?? 'http://127.0.0.1:4000/graphql';
const KEY = process.env.SWAPYARD_API_KEY ?? readFileSync('.swapyard/api-key', 'utf8').trim();
// Group photos that ship with an npm package (@vladmandic/face-api's demo folder).
const demo = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
const photo = (n) => `data:image/jpeg;base64,${readFileSync(join(demo, `sample${n}.jpg`)).toString('base64')}`;

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

// Faces are numbered large to small: face 2 of sample6 goes onto face 1 of sample3.
const { createFaceswapV3MultiJob: job } = await gql(
  `mutation($input: CreateFaceswapV3MultiJobInput!) {
     createFaceswapV3MultiJob(input: $input) {
       __typename
       ... on SwapJob { id status provider cost { estimated { usd } } }
       ... on UnsupportedOptionError { option message }
       ... on InvalidInputError { field rule message }
     }
   }`,
  { input: { sourceImage: photo(6), sourceFacesIndex: '2', targetImage: photo(3), inputFacesIndex: '1', imageFormat: 'JPEG' } },
);
console.log('created:', job);
if (!job.id) process.exit(1);

// Poll until it finishes (examples/quickstart.mjs shows the subscription instead).
let done;
for (;;) {
  ({ job: done } = await gql(
    `query($id: ID!) { job(id: $id) {
       status failure { code message } output { url sha256 width height } notApplied { option note }
       ... on FaceswapV3MultiJob { sourceImage { source sha256 bytes width height url } targetImage { source sha256 bytes url } }
     } }`,
    { id: job.id },
  ));
  if (['COMPLETED', 'FAILED', 'CANCELED'].includes(done.status)) break;
  await new Promise((r) => setTimeout(r, 200));
}
// The inline photos were stored once, by sha256: the job shows them as links, not as base64.
console.log('finished:', JSON.stringify(done, null, 2));
if (done.status !== 'COMPLETED') process.exit(1);

const image = await fetch(done.output.url, { headers: { authorization: `Bearer ${KEY}` } });
writeFileSync('swap.jpg', Buffer.from(await image.arrayBuffer()));
console.log('wrote swap.jpg: sample6 face 2 on sample3 face 1');
