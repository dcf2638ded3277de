// A shared artifact store (S3) that cannot be reached or refuses us. Thrown by
// the stores instead of the SDK's own errors, whose text names endpoints and
// request ids: what a client sees is built from `kind` alone (a 503, or
// SERVICE_UNAVAILABLE), while the operator's log and start-up message get
// `message` and the `cause`.

export class ArtifactStoreUnavailable extends Error {
  override readonly name = 'ArtifactStoreUnavailable';
  constructor(
    readonly store: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isArtifactStoreUnavailable(err: unknown, depth = 0): err is ArtifactStoreUnavailable {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  if (err instanceof ArtifactStoreUnavailable) return true;
  // GraphQL wraps resolver errors in originalError.
  return isArtifactStoreUnavailable((err as { originalError?: unknown }).originalError, depth + 1);
}
