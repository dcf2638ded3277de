// C2PA content credentials: a signed manifest embedded in the served image,
// with @trustnxt/c2pa-ts (pure TypeScript: no native binary, no download at
// install). It writes JPEG and PNG itself; WebP through webp-asset.ts, an Asset
// of ours for the RIFF container the library lacks.
//
// The signature is made with node:crypto rather than the library's LocalSigner:
// COSE wants an ECDSA signature as r|s (IEEE P1363), and LocalSigner's came out
// DER-encoded, which c2pa-rs (the reference reader) refuses as invalid.
import { sign as cryptoSign, constants } from 'node:crypto';
import type { C2paCredentials } from '../../config/c2pa-credentials.js';
import { X509Certificate } from '@peculiar/x509';
import { JPEG, PNG, type Asset } from '@trustnxt/c2pa-ts/asset';
import { CoseAlgorithmIdentifier, type Signer } from '@trustnxt/c2pa-ts/cose';
import { ActionAssertion, ActionType, DataHashAssertion, IngredientAssertion, ManifestStore, RelationshipType, type DigitalSourceType } from '@trustnxt/c2pa-ts/manifest';
import { WebPAsset } from './webp-asset.js';

export { loadC2paCredentials, type C2paCredentials } from '../../config/c2pa-credentials.js';

function signerFor(credentials: C2paCredentials): Signer {
  const [leaf, ...chain] = credentials.certificates.map((pem) => new X509Certificate(pem));
  const { key, algorithm } = credentials;
  const hash = algorithm === CoseAlgorithmIdentifier.ES384 ? 'sha384' : algorithm === CoseAlgorithmIdentifier.ES512 ? 'sha512' : 'sha256';
  return {
    algorithm,
    certificate: leaf!,
    chainCertificates: chain,
    async sign(payload: Uint8Array): Promise<Uint8Array> {
      const signature = algorithm === CoseAlgorithmIdentifier.Ed25519
        ? cryptoSign(null, payload, key)
        : algorithm === CoseAlgorithmIdentifier.PS256
          ? cryptoSign('sha256', payload, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
          : cryptoSign(hash, payload, { key, dsaEncoding: 'ieee-p1363' });
      return new Uint8Array(signature);
    },
  };
}

const signers = new WeakMap<C2paCredentials, Signer>();

export interface C2paIngredient {
  /** What the image was to the job: sourceImage, targetImage, … */
  title: string;
  sha256: string;
  mimeType: string;
}

export interface C2paManifestRequest {
  digitalSourceType: string;
  instanceId: string;
  ingredients: C2paIngredient[];
  /** The image this one was derived from (a thumbnail's output): its manifest then opens that and resizes it. */
  parent?: C2paIngredient;
  softwareAgent: { name: string; version: string };
}

/** Formats a manifest can be embedded in. */
export function canSignC2pa(mimeType: string): boolean {
  return mimeType === 'image/jpeg' || mimeType === 'image/png' || mimeType === 'image/webp';
}

function assetOf(bytes: Buffer, mimeType: string): Asset {
  if (mimeType === 'image/png') return new PNG(bytes);
  if (mimeType === 'image/webp') return new WebPAsset(bytes);
  return new JPEG(bytes);
}

/**
 * `bytes` (a JPEG, PNG or WebP, already carrying its XMP label) with a signed C2PA
 * manifest: actions c2pa.created then c2pa.edited, both with the digital
 * source type, the edit naming the input images (ingredients, by sha256), or
 * for a derived image c2pa.opened (its parent, by sha256) then c2pa.resized;
 * and a hard binding (data hash) over every byte outside the manifest.
 */
export async function embedC2paManifest(
  bytes: Buffer, mimeType: string, request: C2paManifestRequest, credentials: C2paCredentials,
): Promise<Buffer> {
  let signer = signers.get(credentials);
  if (!signer) signers.set(credentials, (signer = signerFor(credentials)));
  const asset = assetOf(bytes, mimeType);
  const store = new ManifestStore();
  const manifest = store.createManifest({ assetFormat: mimeType, instanceID: request.instanceId, defaultHashAlgorithm: 'SHA-256', signer });
  const relationship = request.parent ? RelationshipType.ParentOf : RelationshipType.InputTo;
  const refs = (request.parent ? [request.parent] : request.ingredients).map((input, i) => {
    const ingredient = IngredientAssertion.createV3(relationship);
    // Labels must be unique in a manifest: c2pa.ingredient.v3, c2pa.ingredient.v3__1, …
    if (i > 0) ingredient.labelSuffix = i;
    ingredient.title = input.title;
    ingredient.format = input.mimeType;
    // The input's bytes are not embedded; its sha256 is what identifies it.
    ingredient.instanceID = `sha256:${input.sha256}`;
    manifest.addAssertion(ingredient);
    return manifest.createAssertionReference(ingredient);
  });
  const source = request.digitalSourceType as DigitalSourceType;
  const agent = request.softwareAgent;
  const actions = new ActionAssertion();
  // A standard manifest starts with c2pa.created, or c2pa.opened of its one parentOf ingredient.
  actions.actions = request.parent
    // A derived image (a thumbnail): the output opened, then resized; what the output is stays said on the opening.
    ? [
      { action: ActionType.C2paOpened, digitalSourceType: source, softwareAgent: agent, parameters: { ingredients: refs } },
      { action: ActionType.C2paResized, softwareAgent: agent, description: 'thumbnail' },
    ]
    // An output: the swap itself is the edit.
    : [
      { action: ActionType.C2paCreated, digitalSourceType: source, softwareAgent: agent },
      {
        action: ActionType.C2paEdited, digitalSourceType: source, softwareAgent: agent,
        description: 'face/body swap', ...(refs.length > 0 ? { parameters: { ingredients: refs } } : {}),
      },
    ];
  manifest.addAssertion(actions);
  const dataHash = DataHashAssertion.create('SHA-256');
  manifest.addAssertion(dataHash);
  await asset.ensureManifestSpace(store.measureSize());
  await dataHash.updateWithAsset(asset);
  await manifest.sign(signer);
  await asset.writeManifestJUMBF(store.getBytes());
  return Buffer.from(await asset.getDataRange());
}
