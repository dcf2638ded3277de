// labelOutput: the XMP label is read back by an independent reader (exifr),
// pixels are the same before and after (decoded with sharp), and with a
// throwaway key and certificate the C2PA manifest is verified by two readers:
// c2pa-ts (which wrote it) and c2pa-rs (the reference implementation, as wasm).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import exifr from 'exifr';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { labelOutput, xmpPacket } from '../src/services/labelling.js';
import { loadC2paCredentials } from '../src/services/labelling/c2pa.js';
import { WebPAsset } from '../src/services/labelling/webp-asset.js';
import { makeC2paTestCredentials, readC2pa, readXmp, type C2paTestCredentials } from './support/labels.js';

const SUBJECT = { jobId: 'RmFjZXN3YXBWNEpvYjoxMjM=', model: 'FACESWAP_V4', provider: 'segmind' };
const COMPOSITE_TRAINED = 'http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia';

async function image(format: 'png' | 'jpeg' | 'webp', opts: { alpha?: boolean; lossless?: boolean; exif?: boolean } = {}): Promise<Buffer> {
  const { width, height } = { width: 97, height: 61 };
  const channels = opts.alpha ? 4 : 3;
  const raw = Buffer.alloc(width * height * channels);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + (i >> 7) * 11) & 0xff;
  let s = sharp(raw, { raw: { width, height, channels } });
  if (opts.exif) s = s.withExif({ IFD0: { Copyright: 'upstream' } }).withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="old"/></rdf:RDF></x:xmpmeta>');
  return format === 'png' ? s.png().toBuffer() : format === 'jpeg' ? s.jpeg({ quality: 80 }).toBuffer() : s.webp({ lossless: opts.lossless }).toBuffer();
}

/** A WebP file's top-level chunks, checking the RIFF framing on the way: the size field, even padding, no overrun. */
function webpChunks(bytes: Buffer): Array<{ fourcc: string; size: number }> {
  expect(bytes.toString('latin1', 0, 4)).toBe('RIFF');
  expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
  const chunks: Array<{ fourcc: string; size: number }> = [];
  for (let at = 12; at < bytes.length;) {
    const size = bytes.readUInt32LE(at + 4);
    chunks.push({ fourcc: bytes.toString('latin1', at, at + 4), size });
    at += 8 + size + (size % 2);
    expect(at).toBeLessThanOrEqual(bytes.length);
  }
  return chunks;
}

const pixels = async (bytes: Buffer) => (await sharp(bytes).raw().toBuffer({ resolveWithObject: true }));

const CASES = [
  ['PNG', () => image('png')], ['PNG with alpha', () => image('png', { alpha: true })],
  ['JPEG', () => image('jpeg')], ['JPEG with Exif and an old XMP packet', () => image('jpeg', { exif: true })],
  ['WebP (lossy, simple format)', () => image('webp')], ['WebP (lossless with alpha)', () => image('webp', { alpha: true, lossless: true })],
  ['WebP (extended, with an old XMP packet)', () => image('webp', { exif: true })],
  ['PNG with an old XMP packet', () => image('png', { exif: true })],
] as const;

describe('labelOutput: XMP', () => {
  it.each(CASES)('%s: the XMP label reads back and the pixels are unchanged', async (_name, make) => {
    const before = await make();
    const out = await labelOutput(before, SUBJECT);
    expect(out.xmp).toBe(true);
    expect(out.bytes.equals(before)).toBe(false);
    const xmp = await readXmp(out.bytes);
    expect(xmp.DigitalSourceType).toBe(COMPOSITE_TRAINED);
    expect(xmp.JobId).toBe(SUBJECT.jobId);
    expect(xmp.Model).toBe('FACESWAP_V4');
    expect(xmp.Provider).toBe('SEGMIND');
    expect(xmp.format, 'an old XMP packet is replaced, not kept beside').toBeUndefined();
    const [a, b] = [await pixels(before), await pixels(out.bytes)];
    expect(b.info).toEqual(a.info);
    expect(b.data.equals(a.data)).toBe(true);
  });

  it('keeps the Exif block of a JPEG', async () => {
    const out = await labelOutput(await image('jpeg', { exif: true }), SUBJECT);
    expect((await exifr.parse(out.bytes, { ifd0: true } as any))?.Copyright).toBe('upstream');
  });

  it('the local engine is labelled compositeSynthetic', async () => {
    const out = await labelOutput(await image('png'), { ...SUBJECT, provider: 'local' });
    expect((await readXmp(out.bytes)).DigitalSourceType).toBe('http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic');
  });

  it('is a pure function of the bytes and the job: labelled again, the same bytes (served outputs rely on it)', async () => {
    const before = await image('png');
    const [a, b] = [await labelOutput(before, SUBJECT), await labelOutput(Buffer.from(before), { ...SUBJECT })];
    expect(a.bytes.equals(b.bytes)).toBe(true);
    // A job's served bytes are made again from this packet on every read and checked against the
    // sha256 recorded at completion: changing it refuses every stored job's download. Pinned.
    expect(xmpPacket(SUBJECT)).toBe(`<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:swapyard="urn:swapyard:xmp:job:1.0/"
    Iptc4xmpExt:DigitalSourceType="${COMPOSITE_TRAINED}"
    xmp:CreatorTool="Swapyard"
    swapyard:JobId="${SUBJECT.jobId}"
    swapyard:Model="FACESWAP_V4"
    swapyard:Provider="SEGMIND"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>`);
  });

  it('escapes what it writes into XML', () => {
    expect(xmpPacket({ ...SUBJECT, jobId: 'a"<b>&' })).toContain('swapyard:JobId="a&quot;&lt;b&gt;&amp;"');
  });

  it('xmp: false leaves the bytes as they came', async () => {
    const before = await image('jpeg');
    const out = await labelOutput(before, SUBJECT, { xmp: false });
    expect(out.xmp).toBe(false);
    expect(out.bytes.equals(before)).toBe(true);
  });

  it('a format it cannot label in place comes back unchanged, saying so', async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#f00' } }).gif().toBuffer();
    const out = await labelOutput(gif, SUBJECT);
    expect(out).toMatchObject({ xmp: false, c2pa: false, skipped: 'not a PNG, JPEG or WebP file' });
    expect(out.bytes.equals(gif)).toBe(true);
  });
});

describe('labelOutput: C2PA', () => {
  let creds: C2paTestCredentials;
  beforeAll(async () => { creds = await makeC2paTestCredentials(); });
  const inputs = [{ title: 'sourceImage', sha256: 'a'.repeat(64), mimeType: 'image/png' }, { title: 'targetImage', sha256: 'b'.repeat(64), mimeType: 'image/jpeg' }];

  it.each([['PNG', 'png'], ['JPEG', 'jpeg'], ['WebP', 'webp']] as const)('%s: a signed manifest that both readers verify, pixels unchanged', async (_n, format) => {
    const before = await image(format);
    const out = await labelOutput(before, { ...SUBJECT, inputs }, { c2pa: creds.credentials });
    expect(out).toMatchObject({ xmp: true, c2pa: true });
    const manifest = await readC2pa(out.bytes, creds.caPem);
    expect(manifest.problems).toEqual([]);
    expect(manifest.actions).toEqual([
      { action: 'c2pa.created', digitalSourceType: COMPOSITE_TRAINED },
      { action: 'c2pa.edited', digitalSourceType: COMPOSITE_TRAINED },
    ]);
    expect(manifest.ingredients).toEqual([
      { title: 'sourceImage', instanceId: `sha256:${'a'.repeat(64)}`, relationship: 'inputTo' },
      { title: 'targetImage', instanceId: `sha256:${'b'.repeat(64)}`, relationship: 'inputTo' },
    ]);
    expect((await readXmp(out.bytes)).JobId).toBe(SUBJECT.jobId);
    const [a, b] = [await pixels(before), await pixels(out.bytes)];
    expect(b.data.equals(a.data)).toBe(true);
  });

  it.each([['PNG', 'png', 20], ['WebP', 'webp', 8]] as const)('%s: a changed byte breaks the manifest (the hard binding covers the image)', async (_n, format, fromEnd) => {
    const out = await labelOutput(await image(format), SUBJECT, { c2pa: creds.credentials });
    expect((await readC2pa(out.bytes, creds.caPem)).problems).toEqual([]);
    // PNG: near IEND; WebP: in the image data (the VP8 chunk comes first, the manifest last).
    const at = format === 'png' ? out.bytes.length - fromEnd : 12 + 18 + 8 + fromEnd;
    const tampered = Buffer.from(out.bytes);
    tampered[at] = tampered[at]! ^ 0xff;
    const manifest = await readC2pa(tampered, creds.caPem);
    expect(manifest.problems.length).toBeGreaterThan(0);
    expect(manifest.problems.join(' ')).toMatch(/dataHash\.mismatch/i);
  });

  it.each([
    ['simple lossy', { alpha: false, lossless: false }], ['simple lossless with alpha', { alpha: true, lossless: true }], ['extended (Exif, XMP)', { exif: true }],
  ] as const)('WebP (%s) without the XMP label: the manifest alone, in a C2PA chunk laid out as RIFF wants', async (_n, opts) => {
    const before = await image('webp', opts);
    const out = await labelOutput(before, SUBJECT, { xmp: false, c2pa: creds.credentials });
    expect(out).toMatchObject({ xmp: false, c2pa: true });
    const bytes = out.bytes;
    const chunks = webpChunks(bytes);
    expect(chunks[0]!.fourcc).toBe('VP8X'); // the extended format, which extra chunks need
    expect(chunks.at(-1)!.fourcc).toBe('C2PA');
    expect(chunks.filter((c) => c.fourcc === 'C2PA')).toHaveLength(1);
    expect(bytes.length % 2).toBe(0);
    expect((await readC2pa(bytes, creds.caPem)).problems).toEqual([]);
    const [a, b] = [await pixels(before), await pixels(bytes)];
    expect(b.info).toEqual(a.info);
    expect(b.data.equals(a.data)).toBe(true);
  });

  it('WebPAsset pads an odd-length manifest store to an even chunk, outside the hash exclusion, and reads it back', async () => {
    const asset = new WebPAsset(await image('webp'));
    expect(asset.getManifestJUMBF()).toBeUndefined();
    expect(() => asset.getHashExclusionRange()).toThrow('No manifest storage reserved');
    await expect(asset.writeManifestJUMBF(new Uint8Array(5))).rejects.toThrow('Wrong amount of space in asset');
    await asset.ensureManifestSpace(5);
    await asset.writeManifestJUMBF(new Uint8Array([1, 2, 3, 4, 5]));
    const bytes = Buffer.from(await asset.getDataRange());
    expect(webpChunks(bytes).at(-1)).toEqual({ fourcc: 'C2PA', size: 5 });
    expect(bytes.length).toBe(asset.getDataLength());
    expect(bytes.at(-1)).toBe(0); // the pad byte
    // Like c2pa-rs: the chunk's header and payload are excluded, the pad byte is hashed.
    expect(asset.getHashExclusionRange()).toEqual({ start: bytes.length - 14, length: 13 });
    expect(Buffer.from(new WebPAsset(bytes).getManifestJUMBF()!)).toEqual(Buffer.from([1, 2, 3, 4, 5]));
    await expect(asset.writeManifestJUMBF(new Uint8Array(6))).rejects.toThrow('Wrong amount of space in asset');
    expect(() => new WebPAsset(Buffer.from('not a webp at all'))).toThrow('Not a WebP file');
  });

  it('WebP signed twice keeps one manifest, the second', async () => {
    const once = await labelOutput(await image('webp'), SUBJECT, { c2pa: creds.credentials });
    const twice = await labelOutput(once.bytes, { ...SUBJECT, jobId: 'second' }, { c2pa: creds.credentials });
    expect(webpChunks(twice.bytes).filter((c) => c.fourcc === 'C2PA')).toHaveLength(1);
    expect(webpChunks(twice.bytes).filter((c) => c.fourcc === 'XMP ')).toHaveLength(1);
    const manifest = await readC2pa(twice.bytes, creds.caPem);
    expect(manifest.problems).toEqual([]);
    expect((await readXmp(twice.bytes)).JobId).toBe('second');
  });
});

describe('C2PA configuration', () => {
  let creds: C2paTestCredentials;
  const dir = mkdtempSync(join(tmpdir(), 'swapyard-c2pa-cfg-'));
  beforeAll(async () => {
    creds = await makeC2paTestCredentials();
    writeFileSync(join(dir, 'key.pem'), creds.keyPem);
    writeFileSync(join(dir, 'cert.pem'), creds.certPem);
  });

  it('takes PEM text or file paths', () => {
    expect(loadC2paCredentials({ C2PA_SIGNING_KEY: creds.keyPem, C2PA_CERTIFICATE: creds.certPem })?.certificates).toHaveLength(1);
    expect(loadC2paCredentials({ C2PA_SIGNING_KEY: join(dir, 'key.pem'), C2PA_CERTIFICATE: join(dir, 'cert.pem') })).not.toBeNull();
    expect(loadC2paCredentials({})).toBeNull();
  });

  it.each([
    [{ C2PA_SIGNING_KEY: 'x' }, 'C2PA_SIGNING_KEY and C2PA_CERTIFICATE must be set together (or neither)'],
    [{ C2PA_SIGNING_KEY: '/nonexistent/key.pem', C2PA_CERTIFICATE: '/nonexistent/cert.pem' }, 'C2PA_SIGNING_KEY must be PEM text or the path of a readable PEM file'],
    [{ C2PA_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', C2PA_CERTIFICATE: 'cert' }, 'C2PA_SIGNING_KEY is not a PEM private key'],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => loadC2paCredentials(env)).toThrow(message);
  });

  it('refuses a key that does not belong to the certificate, without echoing the key', async () => {
    const other = await makeC2paTestCredentials();
    let message = '';
    try { loadC2paCredentials({ C2PA_SIGNING_KEY: other.keyPem, C2PA_CERTIFICATE: creds.certPem }); } catch (err) { message = (err as Error).message; }
    expect(message).toBe('C2PA_SIGNING_KEY does not belong to the first certificate of C2PA_CERTIFICATE');
    expect(message).not.toContain('PRIVATE');
  });

  it('refuses a certificate value with no certificate in it', () => {
    expect(() => loadC2paCredentials({ C2PA_SIGNING_KEY: creds.keyPem, C2PA_CERTIFICATE: join(dir, 'key.pem') })).toThrow('C2PA_CERTIFICATE holds no PEM certificate');
  });
});
