// Reading synthetic-media labels back, with readers Swapyard does not use to
// write them: exifr for XMP, c2pa-rs (@contentauth/c2pa-wasm) beside c2pa-ts
// for C2PA. And a throwaway CA and signing certificate for C2PA tests.
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as x509 from '@peculiar/x509';
import { initSync, WasmReader } from '@contentauth/c2pa-wasm';
import { JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore } from '@trustnxt/c2pa-ts/manifest';
import exifr from 'exifr';
import sharp from 'sharp';
import { loadC2paCredentials, type C2paCredentials } from '../../src/services/labelling/c2pa.js';
import { WebPAsset } from '../../src/services/labelling/webp-asset.js';

/**
 * The XMP properties of an image, by local name (DigitalSourceType, JobId,
 * Model, Provider, …): exifr for PNG and JPEG; exifr reads no WebP, so for
 * WebP libvips (sharp's metadata) finds the packet and its attributes are read here.
 */
export async function readXmp(bytes: Buffer): Promise<Record<string, unknown>> {
  if (bytes.toString('latin1', 8, 12) === 'WEBP') {
    const packet = (await sharp(bytes).metadata()).xmp?.toString('utf8') ?? '';
    return Object.fromEntries([...packet.matchAll(/\s[\w]+:(\w+)="([^"]*)"/g)].filter((m) => m[1] !== 'about').map((m) => [m[1], m[2]]));
  }
  const parsed = await exifr.parse(bytes, { xmp: true, tiff: false, ifd0: false, exif: false, gps: false, iptc: false, icc: false, mergeOutput: false } as any);
  const out: Record<string, unknown> = {};
  for (const group of Object.values(parsed ?? {})) if (group && typeof group === 'object') Object.assign(out, group);
  return out;
}

const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

export interface C2paTestCredentials { keyPem: string; certPem: string; caPem: string; credentials: C2paCredentials }

/** A throwaway CA and an ES256 signing certificate it issued (C2PA refuses self-signed signers). */
export async function makeC2paTestCredentials(): Promise<C2paTestCredentials> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const gen = () => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const [caKeys, leafKeys] = [await gen(), await gen()];
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + 30 * 86400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=Swapyard test CA, O=Swapyard tests', notBefore, notAfter, keys: caKeys, signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=Swapyard test signer, O=Swapyard tests', issuer: ca.subject, notBefore, notAfter,
    publicKey: leafKeys.publicKey, signingKey: caKeys.privateKey, signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.4'], false), // emailProtection, one of the EKUs C2PA accepts
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey));
  const certPem = leaf.toString('pem') + '\n';
  const caPem = ca.toString('pem') + '\n';
  return { keyPem, certPem, caPem, credentials: loadC2paCredentials({ C2PA_SIGNING_KEY: keyPem, C2PA_CERTIFICATE: certPem })! };
}

let wasmReady = false;
function c2paRs(): typeof WasmReader {
  if (!wasmReady) {
    const require = createRequire(import.meta.url);
    initSync({ module: readFileSync(require.resolve('@contentauth/c2pa-wasm/c2pa.wasm')) });
    wasmReady = true;
  }
  return WasmReader;
}

export interface ReadManifest {
  /** Validation failures of either reader ([] when both accept the manifest). */
  problems: string[];
  actions: Array<{ action: string; digitalSourceType?: string }>;
  ingredients: Array<{ title: string; instanceId: string; relationship: string }>;
}

/** The active C2PA manifest of `bytes`, validated by c2pa-ts and by c2pa-rs (trusting `caPem`). */
export async function readC2pa(bytes: Buffer, caPem: string): Promise<ReadManifest> {
  const problems: string[] = [];
  // c2pa-ts has no WebP reader: Swapyard's asset finds the chunk, and c2pa-rs below checks it independently.
  const asset = PNG.canRead(bytes) ? new PNG(bytes) : WebPAsset.canRead(bytes) ? new WebPAsset(bytes) : new JPEG(bytes);
  const jumbf = asset.getManifestJUMBF();
  if (!jumbf) return { problems: ['c2pa-ts: no manifest'], actions: [], ingredients: [] };
  const validation = await ManifestStore.read(SuperBox.fromBuffer(jumbf as Uint8Array<ArrayBuffer>)).validate(asset);
  for (const e of validation.statusEntries) if (!e.success) problems.push(`c2pa-ts: ${e.code}`);
  if (!validation.isValid && problems.length === 0) problems.push('c2pa-ts: invalid');

  const format = asset.mimeType;
  const settings = JSON.stringify({ trust: { trust_anchors: caPem } });
  const reader = await c2paRs().fromBytes(format, new Uint8Array(bytes), settings);
  const store = JSON.parse(reader.json());
  for (const s of store.validation_status ?? []) problems.push(`c2pa-rs: ${s.code}`);
  const active = reader.activeManifest();
  const actions = (active.assertions ?? []).find((a: any) => String(a.label).startsWith('c2pa.actions'))?.data.actions ?? [];
  return {
    problems,
    actions: actions.map((a: any) => ({ action: a.action, digitalSourceType: a.digitalSourceType })),
    ingredients: (active.ingredients ?? []).map((i: any) => ({ title: i.title, instanceId: i.instance_id, relationship: i.relationship })),
  };
}
