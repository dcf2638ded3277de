// No valid key, no body read (src/server/request-auth.ts): a request is refused
// from its headers, before its body arrives, over a real socket.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

const BIG = 30 * 1024 * 1024;

/** A POST declaring a 30 MB JSON body; `headers` adds to it. */
function post(headers: Record<string, string>): ClientRequest {
  const url = new URL(`${t.url}/graphql`);
  return request({
    host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(BIG), ...headers },
  });
}

function answer(req: ClientRequest): Promise<{ res: IncomingMessage; body: any }> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ res, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
}

describe('a request without a valid key', () => {
  it.each([
    { label: 'no Authorization header', headers: {} as Record<string, string>, message: /Authorization: Bearer/ },
    { label: 'an unknown key', headers: { authorization: 'Bearer sy_unknown' } as Record<string, string>, message: /unknown, revoked or expired/ },
  ])('($label) is answered 401 while its 30 MB body has not been sent', async ({ headers, message }) => {
    const req = post(headers);
    // Only the headers and the first KB: the server must not wait for the rest.
    req.write(`{"query":"{ __typename }","pad":"${'x'.repeat(1024)}`);
    const { res, body } = await answer(req);
    expect(res.statusCode).toBe(401);
    expect(body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', field: 'Authorization', rule: 'api-key' });
    expect(body.errors[0].message).toMatch(message);
    req.destroy();
  });

  it('that asks to send its body only after 100 Continue never gets it', async () => {
    const req = post({ expect: '100-continue' });
    let continued = false;
    req.on('continue', () => (continued = true));
    req.flushHeaders();
    const { res } = await answer(req);
    expect(res.statusCode).toBe(401);
    expect(continued).toBe(false);
    req.destroy();
  });
});

describe('a request with a valid key', () => {
  it('that asks for 100 Continue gets it, sends its body and is answered', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const url = new URL(`${t.url}/graphql`);
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${t.key}`, expect: '100-continue' },
    });
    req.on('continue', () => req.end(body));
    req.flushHeaders();
    const { res, body: json } = await answer(req);
    expect(res.statusCode).toBe(200);
    expect(json).toEqual({ data: { __typename: 'Query' } });
  });

  it('a GET without a key is still refused 401 (no body to read)', async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});
