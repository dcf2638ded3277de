import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { ApiKeyIdentity } from '../services/api-keys.js';
import type { ArtifactStore } from '../services/artifacts.js';
import type { EventHub } from '../services/event-hub.js';
import type { UpstreamProvider } from '../services/providers/types.js';
import type { UrlSigner } from '../util/url-signing.js';

/** What every resolver gets: the caller's key is always known (unauthenticated requests never reach a resolver). */
export interface Context {
  db: Db;
  apiKey: ApiKeyIdentity;
  events: EventHub;
  artifacts: ArtifactStore;
  config: Config;
  /** Absolute base URL of this service, for output links. */
  publicUrl: string;
  /** Signs links a browser may GET without the Authorization header (thumbnails). */
  urls: UrlSigner;
  /** The upstream account (Segmind or its emulator), for on-demand balance readings. */
  upstream?: UpstreamProvider;
}
