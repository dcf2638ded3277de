// The one place the artifact store is chosen (ARTIFACT_STORE): a local folder,
// the service's PostgreSQL, or an S3-compatible bucket. Every store has the
// same keys (`<sha256>.<ext>`), so artifacts move between them unchanged
// (src/cli/move-artifacts.ts).
import { join } from 'node:path';
import type { ArtifactStoreKind, Config } from '../config.js';
import { LocalArtifactStore, type ArtifactStore } from './artifacts.js';
import { PostgresArtifactStore } from './postgres-artifacts.js';

/**
 * Opens the store `kind` (by default the configured one). The S3 store is
 * checked at once (bucket there, credentials accepted), so a wrong setting
 * stops the service at start with ArtifactStoreUnavailable saying which; the
 * PostgreSQL store needs the `artifacts` table, which the migrations create.
 */
export async function openArtifactStore(
  config: Config, databaseUrl: string, kind: ArtifactStoreKind = config.artifacts.store,
): Promise<ArtifactStore> {
  switch (kind) {
    case 'local':
      return new LocalArtifactStore(join(config.dataDir, 'artifacts'));
    case 'postgres':
      return new PostgresArtifactStore(databaseUrl);
    case 's3': {
      if (!config.artifacts.s3) throw new Error('the s3 artifact store needs S3_BUCKET');
      // Loaded only when used: the SDK adds a noticeable share to start-up time.
      const { S3ArtifactStore } = await import('./s3-artifacts.js');
      const store = new S3ArtifactStore(config.artifacts.s3);
      try {
        await store.check();
      } catch (err) {
        await store.close();
        throw err;
      }
      return store;
    }
  }
}
