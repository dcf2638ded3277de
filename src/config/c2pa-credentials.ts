// C2PA signing credentials from the environment, checked at start (config.ts
// loads them with the rest of the configuration; labelling/c2pa.ts signs with them).
import { createPrivateKey, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoseAlgorithmIdentifier } from '@trustnxt/c2pa-ts/cose';

export interface C2paCredentials {
  key: KeyObject;
  /** The signing certificate first, then its chain (without the root), PEM. */
  certificates: string[];
  algorithm: CoseAlgorithmIdentifier;
}

type Env = Record<string, string | undefined>;

/** A PEM value as given, or the file a path names. */
function pemOf(env: Env, name: string): string {
  const raw = env[name]!.trim();
  if (raw.startsWith('-----BEGIN')) return raw;
  try {
    return readFileSync(raw, 'utf8');
  } catch {
    throw new Error(`${name} must be PEM text or the path of a readable PEM file`);
  }
}

/**
 * C2PA_SIGNING_KEY and C2PA_CERTIFICATE (PEM text or file paths), both or
 * neither; checked at start, with messages that name the variable and never
 * echo the key.
 */
export function loadC2paCredentials(env: Env): C2paCredentials | null {
  const hasKey = Boolean(env.C2PA_SIGNING_KEY?.trim());
  const hasCert = Boolean(env.C2PA_CERTIFICATE?.trim());
  if (!hasKey && !hasCert) return null;
  if (hasKey !== hasCert) throw new Error('C2PA_SIGNING_KEY and C2PA_CERTIFICATE must be set together (or neither)');
  let key: KeyObject;
  try {
    key = createPrivateKey(pemOf(env, 'C2PA_SIGNING_KEY'));
  } catch (err) {
    throw new Error((err as Error).message.startsWith('C2PA_') ? (err as Error).message : 'C2PA_SIGNING_KEY is not a PEM private key');
  }
  const certificates = pemOf(env, 'C2PA_CERTIFICATE').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  let leaf: NodeX509;
  try {
    leaf = new NodeX509(certificates[0] ?? '');
  } catch {
    throw new Error('C2PA_CERTIFICATE holds no PEM certificate');
  }
  if (!leaf.checkPrivateKey(key)) throw new Error('C2PA_SIGNING_KEY does not belong to the first certificate of C2PA_CERTIFICATE');
  return { key, certificates, algorithm: algorithmOf(key) };
}

function algorithmOf(key: KeyObject): CoseAlgorithmIdentifier {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (curve === 'prime256v1') return CoseAlgorithmIdentifier.ES256;
      if (curve === 'secp384r1') return CoseAlgorithmIdentifier.ES384;
      if (curve === 'secp521r1') return CoseAlgorithmIdentifier.ES512;
      break;
    case 'ed25519': return CoseAlgorithmIdentifier.Ed25519;
    case 'rsa': case 'rsa-pss': return CoseAlgorithmIdentifier.PS256;
  }
  throw new Error('C2PA_SIGNING_KEY must be an EC P-256/P-384/P-521, Ed25519 or RSA key (the algorithms C2PA allows)');
}
