// The job every throughput bench submits: a faceswap-v4 job with URL inputs,
// created over HTTP with the API's key; and a backlog of them, queued before
// any worker runs.
import type { graphqlClient } from './load.js';

export const CREATE_MUTATION = `mutation($input: CreateFaceswapV4JobInput!) {
  createFaceswapV4Job(input: $input) { __typename ... on FaceswapV4Job { id } ... on InvalidInputError { message } } }`;
export const SWAP_INPUT = { sourceImage: 'https://example.com/faces/source.jpg', targetImage: 'https://example.com/faces/target.png' };

type Http = ReturnType<typeof graphqlClient>;

/** Creates one job; its global id, or an error with the answer. */
export async function submitSwapJob(http: Http, key: string): Promise<string> {
  const res = await http.post('/graphql', { query: CREATE_MUTATION, variables: { input: SWAP_INPUT } }, { authorization: `Bearer ${key}` });
  const id = res.json?.data?.createFaceswapV4Job?.id;
  if (!id) throw new Error(`unexpected answer: ${JSON.stringify(res.json).slice(0, 300)}`);
  return id;
}

/** Queues `count` jobs from `clients` concurrent callers; their ids. */
export async function queueBacklog(count: number, clients: number, submit: () => Promise<string>): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, clients) }, async () => {
    while (next++ < count) ids.push(await submit());
  }));
  return ids;
}
