// The guarded outbound fetch (src/net): the special-purpose address rule at
// connect time and on every redirect hop, host:port allow-lists, DNS
// rebinding, the body cap, the deadline and the caller's signal. Real HTTP
// servers on loopback; DNS is stood in for by a lookup function, so no
// request ever leaves this machine (addresses outside loopback are only
// classified, never connected to).
import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowEntry, parseAllowList, type AllowEntry } from '../src/net/allow-list.js';
import {
  guardedFetch,
  GuardedClient,
  OutboundFetchError,
  targetRefusal,
  type GuardedClientOptions,
  type GuardedRequest,
  type LookupFunction,
} from '../src/net/guarded-fetch.js';
import { specialAddressReason } from '../src/net/special-addresses.js';

interface TestServer {
  port: number;
  url: string;
  hits: string[];
  close(): Promise<void>;
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse, self: TestServer) => void): Promise<TestServer> {
  const hits: string[] = [];
  const self = { hits } as TestServer;
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res, self);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self.port = (server.address() as AddressInfo).port;
  self.url = `http://127.0.0.1:${self.port}`;
  self.close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return self;
}

const REQ: GuardedRequest = { timeoutMs: 10_000, maxBytes: 1_000_000 };
const allow = (...entries: string[]): AllowEntry[] => entries.map(parseAllowEntry);

async function refused(url: string, opts: Partial<GuardedRequest & GuardedClientOptions> = {}): Promise<OutboundFetchError> {
  const err = await guardedFetch(url, { ...REQ, policy: {}, ...opts }).then(
    (res) => new Error(`expected a refusal, got HTTP ${res.status}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundFetchError);
  return err as OutboundFetchError;
}

/** A stand-in for DNS: each name maps to the addresses the function gives for that call. */
function fakeDns(answer: (host: string, call: number) => string[]): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const fn = ((host, options, callback) => {
    calls.push(host);
    const addresses: LookupAddress[] = answer(host, calls.length).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (addresses.length === 0) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), '');
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as LookupFunction & { calls: string[] };
  fn.calls = calls;
  return fn;
}

let image: TestServer; // the allow-listed origin
let other: TestServer; // another port of the same host, never allowed
const BODY = Buffer.from('an image, as far as this test is concerned');

beforeAll(async () => {
  other = await serve((_req, res) => res.end('secret from another port'));
  image = await serve((req, res, self) => {
    const path = req.url ?? '/';
    if (path === '/image') return res.end(BODY);
    if (path === '/to-image') return redirect(res, '/image');
    if (path === '/to-other-port') return redirect(res, `${other.url}/secret`);
    if (path === '/to-localhost') return redirect(res, `http://localhost:${self.port}/image`);
    if (path === '/to-name') return redirect(res, `http://rebound.example:${self.port}/image`);
    if (path === '/to-credentials') return redirect(res, `http://user:pw@127.0.0.1:${self.port}/image`);
    if (path === '/to-file') return redirect(res, 'file:///etc/passwd');
    const loop = /^\/loop\/(\d+)$/.exec(path);
    if (loop) return redirect(res, `/loop/${Number(loop[1]) + 1}`);
    if (path === '/declared-big') {
      res.writeHead(200, { 'content-length': 2_000_000 });
      return res.end(Buffer.alloc(2_000_000));
    }
    if (path === '/streamed-big') {
      res.writeHead(200);
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(100_000, 1));
      return res.end();
    }
    if (path === '/silent') return; // never answers
    if (path === '/stalls-mid-body') {
      res.writeHead(200, { 'content-length': 100 });
      return res.write(Buffer.alloc(10)); // and never the rest
    }
    res.writeHead(404);
    res.end();
  });
});

afterAll(async () => {
  await image?.close();
  await other?.close();
});

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location });
  res.end();
}

describe('special-purpose addresses (IANA IPv4 and IPv6 registries)', () => {
  // Every block the registries list, and multicast and the IPv6 space outside 2000::/3.
  it.each([
    ['0.0.0.0/8 "this network"', '0.1.2.3', '"this network"'],
    ['10.0.0.0/8 private', '10.1.2.3', 'private-use'],
    ['100.64.0.0/10 shared (CGNAT)', '100.64.0.1', 'shared address space'],
    ['127.0.0.0/8 loopback', '127.0.0.1', 'loopback'],
    ['127.0.0.0/8 loopback, its last address', '127.255.255.254', 'loopback'],
    ['169.254.0.0/16 link-local (cloud metadata)', '169.254.169.254', 'link-local'],
    ['172.16.0.0/12 private', '172.31.255.1', 'private-use'],
    ['192.0.0.0/24 IETF protocol assignments', '192.0.0.9', 'reserved'],
    ['192.0.2.0/24 TEST-NET-1', '192.0.2.10', 'reserved'],
    ['192.31.196.0/24 AS112', '192.31.196.1', 'AS112'],
    ['192.52.193.0/24 AMT', '192.52.193.1', 'AMT'],
    ['192.88.99.0/24 6to4 relay anycast', '192.88.99.1', 'reserved'],
    ['192.168.0.0/16 private', '192.168.0.10', 'private-use'],
    ['192.175.48.0/24 AS112', '192.175.48.1', 'AS112'],
    ['198.18.0.0/15 benchmarking', '198.19.0.1', 'reserved'],
    ['198.51.100.0/24 TEST-NET-2', '198.51.100.7', 'reserved'],
    ['203.0.113.0/24 TEST-NET-3', '203.0.113.7', 'reserved'],
    ['224.0.0.0/4 multicast', '239.255.255.250', 'multicast'],
    ['240.0.0.0/4 reserved', '240.0.0.1', 'reserved'],
    ['255.255.255.255/32 broadcast', '255.255.255.255', 'limited broadcast'],
    ['::/128 unspecified', '::', 'unspecified'],
    ['::1/128 loopback', '::1', 'loopback'],
    ['::/96 IPv4-compatible (public v4 inside)', '::808:808', 'IPv4-compatible'],
    ['::ffff:0:0/96 IPv4-mapped (public v4 inside)', '::ffff:8.8.8.8', 'IPv4-mapped'],
    ['::ffff:0:0:0/96 IPv4-translated', '::ffff:0:808:808', 'IPv4-translated'],
    ['64:ff9b::/96 NAT64 (public v4 inside)', '64:ff9b::808:808', 'NAT64'],
    ['64:ff9b:1::/48 local NAT64', '64:ff9b:1::a00:1', 'NAT64'],
    ['100::/64 discard-only', '100::1', 'discard-only'],
    ['2001::/32 Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001::/23 IETF protocol assignments', '2001:1::1', 'reserved'],
    ['2001:2::/48 benchmarking', '2001:2::1', 'benchmarking'],
    ['2001:3::/32 AMT', '2001:3::1', 'AMT'],
    ['2001:4:112::/48 AS112', '2001:4:112::1', 'AS112'],
    ['2001:20::/28 ORCHIDv2', '2001:20::1', 'ORCHIDv2'],
    ['2001:db8::/32 documentation', '2001:db8::1', 'documentation'],
    ['2002::/16 6to4 (public v4 inside)', '2002:808:808::1', '6to4'],
    ['2620:4f:8000::/48 AS112', '2620:4f:8000::1', 'AS112'],
    ['3fff::/20 documentation', '3fff::1', 'documentation'],
    ['5f00::/16 segment routing', '5f00::1', 'segment routing'],
    ['fc00::/7 unique-local', 'fd12:3456::1', 'unique-local'],
    ['fe80::/10 link-local', 'fe80::1', 'link-local'],
    ['fec0::/10 site-local', 'fec0::1', 'site-local'],
    ['ff00::/8 multicast', 'ff02::1', 'multicast'],
    ['outside 2000::/3', '4000::1', 'outside the global unicast space'],
  ])('%s: %s is refused', (_block, address, label) => {
    expect(specialAddressReason(address)).toContain(label);
  });

  it.each([
    ['::7f00:1', 'IPv4-compatible'],
    ['::ffff:10.0.0.1', 'IPv4-mapped'],
    ['64:ff9b::a9fe:a9fe', 'NAT64'],
    ['2002:c0a8:1::1', '6to4'],
  ])('%s: the IPv4 address it carries is checked against the IPv4 rules and named (%s)', (address, via) => {
    const reason = specialAddressReason(address)!;
    expect(reason).toContain(via);
    expect(reason).toMatch(/carrying (127\.0\.0\.1|10\.0\.0\.1|169\.254\.169\.254|192\.168\.0\.1), which is (loopback|private-use|link-local)/);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700::1111', '2a00:1450:4001:80b::200e'])('%s, a public address, passes', (address) => {
    expect(specialAddressReason(address)).toBeNull();
  });

  it('a string that is not an address is refused, not taken as public', () => {
    expect(specialAddressReason('example.com')).toBe('not an IP address');
  });
});

describe('connecting: IP literals and resolved names', () => {
  it.each([
    (p: number) => `http://127.0.0.1:${p}/image`,
    (p: number) => `http://127.7.7.7:${p}/image`,
    (p: number) => `http://[::ffff:127.0.0.1]:${p}/image`,
    (p: number) => `http://[::ffff:7f00:1]:${p}/image`,
    (p: number) => `http://0x7f.1:${p}/image`,
  ])('refuses a loopback literal (%#) before any request is made', async (make) => {
    const before = image.hits.length;
    const err = await refused(make(image.port));
    expect(err.rule).toBe('private-address');
    expect(err.message).toMatch(/^refused: .* is (IPv4-mapped .*carrying 127\.0\.0\.1, which is )?loopback/);
    expect(image.hits.length).toBe(before);
  });

  it('refuses a name that resolves to loopback at connect time, naming the address', async () => {
    const dns = fakeDns(() => ['127.0.0.1']);
    const err = await refused(`http://images.example:${image.port}/image`, { lookup: dns });
    expect(err.rule).toBe('private-address');
    expect(err.message).toBe('refused: images.example resolves to 127.0.0.1, which is loopback (127.0.0.0/8)');
    expect(dns.calls).toEqual(['images.example']);
  });

  it('refuses a name when any of its addresses is special, even if another is public', async () => {
    // Loopback first: were the rule broken, the connection would still stay on this machine.
    const err = await refused(`http://mixed.example:${image.port}/image`, { lookup: fakeDns(() => ['127.0.0.1', '93.184.215.14']) });
    expect(err.message).toContain('resolves to 127.0.0.1');
  });

  it('DNS rebinding: public when the URL was checked, loopback when connecting → refused at the connection', async () => {
    // First answer (the check a webhook registration makes): public. Every later one: this machine.
    const dns = fakeDns((_host, call) => (call === 1 ? ['93.184.215.14'] : ['127.0.0.1']));
    const url = `http://rebind.example:${image.port}/image`;
    expect(await targetRefusal(new URL(url), {}, dns)).toBeNull();
    const before = image.hits.length;
    const err = await refused(url, { lookup: dns });
    expect(err.message).toContain('rebind.example resolves to 127.0.0.1');
    expect(image.hits.length).toBe(before);
    expect(dns.calls.length).toBe(2);
  });

  it('the registration check refuses what resolves to a special address now, and passes names that do not resolve', async () => {
    expect(await targetRefusal(new URL('https://hooks.internal.example/in'), {}, fakeDns(() => ['93.184.215.14', '10.0.0.5']))).toBe(
      'hooks.internal.example resolves to 10.0.0.5, which is private-use (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
    );
    expect(await targetRefusal(new URL('https://gone.example/in'), {}, fakeDns(() => []))).toBeNull();
    expect(await targetRefusal(new URL('http://[::7f00:1]/'), {})).toMatch(/^::7f00:1 is IPv4-compatible .*carrying 127\.0\.0\.1, which is loopback/);
    expect(await targetRefusal(new URL('http://hooks.localhost/'), {})).toBe('hooks.localhost names this machine');
  });

  it('anyAddress (WEBHOOK_ALLOW_PRIVATE) connects anywhere', async () => {
    const res = await guardedFetch(`${image.url}/image`, { ...REQ, policy: { anyAddress: true } });
    expect(res.body.equals(BODY)).toBe(true);
  });
});

describe('allow-lists name a host and a port', () => {
  it('an allowed origin is fetched; another port of the same host is refused', async () => {
    const policy = { allow: allow(`127.0.0.1:${image.port}`) };
    const res = await guardedFetch(`${image.url}/image`, { ...REQ, policy });
    expect(res.status).toBe(200);
    expect(res.body.equals(BODY)).toBe(true);
    const before = other.hits.length;
    const err = await refused(`${other.url}/secret`, { policy });
    expect(err.rule).toBe('private-address');
    expect(other.hits.length).toBe(before);
  });

  it('an allowed name connects to whatever it resolves to; the same address under another name is refused', async () => {
    const dns = fakeDns(() => ['127.0.0.1']);
    const policy = { allow: allow(`images.internal:${image.port}`) };
    const res = await guardedFetch(`http://images.internal:${image.port}/image`, { ...REQ, policy, lookup: dns });
    expect(res.body.equals(BODY)).toBe(true);
    expect((await refused(`http://images-2.internal:${image.port}/image`, { policy, lookup: dns })).rule).toBe('private-address');
  });

  it('the default port counts as a port: host:80 allows http://host/ only', async () => {
    const policy = { allow: allow('images.internal:80') };
    expect(await targetRefusal(new URL('http://images.internal/x'), policy, fakeDns(() => ['10.0.0.1']))).toBeNull();
    expect(await targetRefusal(new URL('https://images.internal/x'), policy, fakeDns(() => ['10.0.0.1']))).toContain('10.0.0.1');
  });

  it.each([
    ['127.0.0.1', /must be host:port/],
    ['images.internal', /must be host:port/],
    ['::1', /must be host:port/],
    ['127.0.0.1:0', /must be host:port/],
    ['127.0.0.1:65536', /must be host:port/],
    ['http://127.0.0.1:8080', /must be host:port/],
    ['127.0.0.1:8080/path', /must be host:port/],
  ])('the entry "%s" is refused', (entry, message) => {
    expect(() => parseAllowList(entry, 'LOCAL_FETCH_ALLOW_HOSTS')).toThrow(message);
    expect(() => parseAllowList(entry, 'LOCAL_FETCH_ALLOW_HOSTS')).toThrow(/^LOCAL_FETCH_ALLOW_HOSTS: /);
  });

  it('entries are read in the spelling URLs use', () => {
    expect(parseAllowList(' Images.Internal:8080 , [::1]:80,127.1:9000,', 'X')).toEqual([
      { host: 'images.internal', port: 8080 },
      { host: '::1', port: 80 },
      { host: '127.0.0.1', port: 9000 },
    ]);
  });
});

describe('redirects: followed by hand, every hop checked', () => {
  const policy = () => ({ allow: allow(`127.0.0.1:${image.port}`) });

  it('follows a redirect within the allowed origin', async () => {
    const res = await guardedFetch(`${image.url}/to-image`, { ...REQ, policy: policy() });
    expect(res.body.equals(BODY)).toBe(true);
    expect(res.url).toBe(`${image.url}/image`);
  });

  it('refuses a hop from the allowed origin to another port of the same host', async () => {
    const before = other.hits.length;
    expect((await refused(`${image.url}/to-other-port`, { policy: policy() })).rule).toBe('private-address');
    expect(other.hits.length).toBe(before);
  });

  it('refuses a hop to the same port under another name (localhost)', async () => {
    expect((await refused(`${image.url}/to-localhost`, { policy: policy() })).rule).toBe('private-address');
  });

  it('a public-looking chain: an allowed name redirects to a name that resolves to loopback → refused at that hop', async () => {
    const dns = fakeDns(() => ['127.0.0.1']);
    const err = await refused(`http://cdn.example:${image.port}/to-name`, { policy: { allow: allow(`cdn.example:${image.port}`) }, lookup: dns });
    expect(err.message).toContain('rebound.example resolves to 127.0.0.1');
  });

  it('refuses a hop that carries credentials or leaves http(s)', async () => {
    expect((await refused(`${image.url}/to-credentials`, { policy: policy() })).rule).toBe('credentials');
    expect((await refused(`${image.url}/to-file`, { policy: policy() })).rule).toBe('scheme');
  });

  it('stops after maxRedirects hops', async () => {
    const err = await refused(`${image.url}/loop/0`, { policy: policy(), maxRedirects: 2 });
    expect(err.rule).toBe('redirects');
    expect(image.hits.filter((h) => h.startsWith('/loop/')).slice(-3)).toEqual(['/loop/0', '/loop/1', '/loop/2']);
  });

  it("redirect 'manual' answers with the 3xx itself", async () => {
    const res = await guardedFetch(`${image.url}/to-other-port`, { ...REQ, policy: policy(), redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${other.url}/secret`);
  });
});

describe('limits: body size, deadline, the caller’s signal', () => {
  const policy = () => ({ allow: allow(`127.0.0.1:${image.port}`) });

  it('a declared length over the cap is refused before the body is read', async () => {
    const err = await refused(`${image.url}/declared-big`, { policy: policy(), maxBytes: 1_000_000 });
    expect(err.rule).toBe('too-large');
    expect(err.message).toBe('the body is 2000000 bytes; the limit is 1000000');
  });

  it('a streamed body over the cap is cut off at the cap', async () => {
    const err = await refused(`${image.url}/streamed-big`, { policy: policy(), maxBytes: 1_000_000 });
    expect(err.rule).toBe('too-large');
    expect(err.message).toBe('the body exceeds the limit of 1000000 bytes');
  });

  it("overflow 'truncate' keeps the first maxBytes", async () => {
    const res = await guardedFetch(`${image.url}/streamed-big`, { ...REQ, policy: policy(), maxBytes: 150_000, overflow: 'truncate' });
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(150_000);
  });

  it('a server that never answers is given up after the deadline', async () => {
    const started = performance.now();
    const err = await refused(`${image.url}/silent`, { policy: policy(), timeoutMs: 300 });
    expect(err.rule).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('the deadline covers the body too', async () => {
    const started = performance.now();
    const err = await refused(`${image.url}/stalls-mid-body`, { policy: policy(), timeoutMs: 300 });
    expect(err.rule).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("the caller's signal aborts the fetch with the caller's reason", async () => {
    const controller = new AbortController();
    const client = new GuardedClient({ policy: policy() });
    try {
      const pending = client.fetch(`${image.url}/silent`, { ...REQ, signal: controller.signal });
      setTimeout(() => controller.abort(new Error('worker stopping')), 50);
      await expect(pending).rejects.toThrow('worker stopping');
      await expect(client.fetch(`${image.url}/image`, { ...REQ, signal: controller.signal })).rejects.toThrow('worker stopping');
    } finally {
      await client.close();
    }
  });
});
