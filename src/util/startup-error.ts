// A start-up failure the operator can act on: what went wrong and what to do.
// Every entry point prints its failures through describeStartupFailure, so a
// failed start says its cause and its fix, never a bare stack or `undefined`.

export class StartupError extends Error {
  constructor(readonly reason: string, readonly fix: string) {
    super(`${reason}. Fix: ${fix}`);
    this.name = 'StartupError';
  }
}

/** Which setting chooses each port the process listens on, to name in the fix. */
export type PortSettings = Record<number, string>;

export function describeStartupFailure(err: unknown, ports: PortSettings = {}): string {
  if (err instanceof StartupError) return `Cannot start: ${err.reason}.\nFix: ${err.fix}.`;
  const e = err as (NodeJS.ErrnoException & { port?: number; address?: string }) | null | undefined;
  if (e?.code === 'EADDRINUSE') {
    const setting = e.port !== undefined ? ports[e.port] : undefined;
    return `Cannot start: ${e.address ?? 'the address'}:${e.port ?? '?'} is already in use by another program.\n`
      + `Fix: stop that program, or ${setting ? `set ${setting} to a free port` : 'choose a free port'}.`;
  }
  if (e?.code === 'EACCES' && e.port !== undefined) {
    return `Cannot start: no permission to listen on port ${e.port}.\nFix: ${ports[e.port] ? `set ${ports[e.port]} to` : 'use'} a port above 1023.`;
  }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT') {
    return `Cannot start: the database cannot be reached (${e.code}${e.address ? ` ${e.address}:${e.port}` : ''}).\n`
      + 'Fix: check that PostgreSQL is running and that DATABASE_URL points at it (unset it to use the embedded database).';
  }
  if (err instanceof Error && err.message) return `Cannot start: ${err.message}\nFix: correct the setting or condition named above and start again.`;
  return `Cannot start: an unexpected failure with no message (${String(err)}).\nFix: run again with the same environment; if it repeats, report it with this output.`;
}
