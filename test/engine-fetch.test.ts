// Image inputs for the local provider: base64 and data URIs decode; URLs are
// fetched through the guarded fetch (test/guarded-fetch.test.ts has its rules
// in full): only over http(s), within byte and time limits, and never from
// special-purpose addresses unless the origin (host:port) is allow-listed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImageInput, InputFetchError } from '../src/net/fetch-input.js';
import { parseAllowList, type AllowEntry } from '../src/net/allow-list.js';
import { faceless } from './support/engine-samples.js';

let server: Server;
let base: string;
let png: Buffer;
let allowHosts: AllowEntry[];

beforeAll(async () => {
  png = await faceless(64, 48);
  server = createServer((req, res) => {
    if (req.url === '/image.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.end(png);
    } else if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 2_000_000 });
      res.end(Buffer.alloc(2_000_000));
    } else if (req.url === '/big-chunked') {
      res.writeHead(200, { 'content-type': 'image/png' });
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(100_000));
      res.end();
    } else if (req.url === '/slow') {
      // Answers only after a minute: a fetch that ends well before that was cut off.
      setTimeout(() => res.end(png), 60_000).unref();
    } else if (req.url === '/to-private') {
      res.writeHead(302, { location: 'http://10.0.0.1/image.png' });
      res.end();
    } else if (req.url === '/to-localhost') {
      res.writeHead(302, { location: `http://localhost:${(server.address() as AddressInfo).port}/image.png` });
      res.end();
    } else if (req.url === '/to-other-port') {
      res.writeHead(302, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port + 1}/image.png` });
      res.end();
    } else if (req.url === '/to-image') {
      res.writeHead(302, { location: '/image.png' });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  allowHosts = parseAllowList(`127.0.0.1:${(server.address() as AddressInfo).port}`, 'LOCAL_FETCH_ALLOW_HOSTS');
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function refusal(value: string, opts: Parameters<typeof fetchImageInput>[1] = {}): Promise<InputFetchError> {
  const err = await fetchImageInput(value, opts).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(InputFetchError);
  return err as InputFetchError;
}

describe('base64 and data URIs', () => {
  it('decodes plain base64 and data URIs', async () => {
    expect((await fetchImageInput(png.toString('base64'))).equals(png)).toBe(true);
    expect((await fetchImageInput(`data:image/png;base64,${png.toString('base64')}`)).equals(png)).toBe(true);
  });

  it('refuses base64 that is not an image, and images over the byte limit', async () => {
    expect((await refusal(Buffer.from('hello world!').toString('base64'))).rule).toBe('format');
    expect((await refusal(png.toString('base64'), { maxBytes: 100 })).rule).toBe('too-large');
  });
});

describe('URL inputs (SSRF rules)', () => {
  it.each([
    ['loopback', 'http://127.0.0.1/x.png'],
    ['loopback by name', 'http://localhost/x.png'],
    ['IPv6 loopback', 'http://[::1]/x.png'],
    ['private 10/8', 'http://10.1.2.3/x.png'],
    ['private 192.168/16', 'https://192.168.0.10/x.png'],
    ['link-local (cloud metadata)', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/x.png'],
  ])('refuses %s, saying how an operator may allow an origin', async (_label, url) => {
    const err = await refusal(url);
    expect(err.rule).toBe('private-address');
    expect(err.message).toMatch(/^fetching the image: refused: .*; LOCAL_FETCH_ALLOW_HOSTS=host:port exempts an origin of your own$/);
  });

  it('refuses a name that resolves to a private address', async () => {
    const lookup = ((_host: string, _opts: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) =>
      cb(null, [{ address: '127.9.8.7', family: 4 }])) as never;
    const err = await refusal(`http://images.internal.example:${(server.address() as AddressInfo).port}/image.png`, { lookup });
    expect(err.rule).toBe('private-address');
    expect(err.message).toContain('images.internal.example resolves to 127.9.8.7');
  });

  it.each([['file:///etc/passwd'], ['ftp://example.com/x.png'], ['gopher://example.com/']])('refuses the non-http scheme of %s', async (url) => {
    expect((await refusal(url)).rule).toBe('scheme');
  });

  it('refuses URLs with credentials', async () => {
    expect((await refusal('http://user:pw@example.com/x.png')).rule).toBe('credentials');
  });

  it('refuses the test server on 127.0.0.1 until its host:port is allow-listed, and then only that port', async () => {
    expect((await refusal(`${base}/image.png`)).rule).toBe('private-address');
    const bytes = await fetchImageInput(`${base}/image.png`, { allowHosts });
    expect(bytes.equals(png)).toBe(true);
    const otherPort = `http://127.0.0.1:${(server.address() as AddressInfo).port + 1}/image.png`;
    expect((await refusal(otherPort, { allowHosts })).rule).toBe('private-address');
  });

  it('follows redirects but checks every hop', async () => {
    const opts = { allowHosts };
    expect((await fetchImageInput(`${base}/to-image`, opts)).equals(png)).toBe(true);
    expect((await refusal(`${base}/to-private`, opts)).rule).toBe('private-address');
    expect((await refusal(`${base}/to-localhost`, opts)).rule).toBe('private-address');
    expect((await refusal(`${base}/to-other-port`, opts)).rule).toBe('private-address');
  });

  it('refuses bodies over the byte limit, declared or streamed', async () => {
    const opts = { allowHosts, maxBytes: 1_000_000 };
    expect((await refusal(`${base}/big`, opts)).rule).toBe('too-large');
    expect((await refusal(`${base}/big-chunked`, opts)).rule).toBe('too-large');
  });

  it('gives up after the time limit', async () => {
    const started = Date.now();
    const err = await refusal(`${base}/slow`, { allowHosts, timeoutMs: 300 });
    expect(err.rule).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('fails a non-200 answer', async () => {
    expect((await refusal(`${base}/missing`, { allowHosts })).rule).toBe('http-status');
  });
});
