// Allow-list entries for outbound requests: origins an operator exempts from
// the special-address rule, each a host AND a port, so allowing the image
// server on 127.0.0.1:8080 does not open every other service on that host.
// A bare host is refused when the setting is read: it would mean either
// "every port" (the hole this closes) or a guess at the default port.

export interface AllowEntry {
  /** Lower-case name or IP address as a URL spells it, without IPv6 brackets. */
  host: string;
  port: number;
}

const ENTRY = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]]+):(\d{1,5})$/;

/** The host of a URL or connection without IPv6 brackets, lower-cased. */
export function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/** The port a URL connects to: its own, or its scheme's default. */
export function effectivePort(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

/** One "host:port" entry; throws a message naming the entry and the form expected. */
export function parseAllowEntry(text: string): AllowEntry {
  const m = ENTRY.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  let host: string | null = null;
  if (m && port >= 1 && port <= 65535) {
    try {
      // The URL parser gives the same spelling (case, IPv4 and IPv6 forms) that request URLs are compared in.
      host = bareHost(new URL(`http://${m[1]}/`).hostname);
    } catch {
      host = null;
    }
  }
  if (!host) throw new Error(`"${text.trim()}" must be host:port, e.g. 127.0.0.1:8080, images.internal:443 or [::1]:8080 (a port is required)`);
  return { host, port };
}

/** A comma-separated list of host:port entries (empty: none); errors name `variable`. */
export function parseAllowList(raw: string | undefined, variable: string): AllowEntry[] {
  const parts = (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  return parts.map((part) => {
    try {
      return parseAllowEntry(part);
    } catch (err) {
      throw new Error(`${variable}: ${(err as Error).message}`);
    }
  });
}

/** The entry that allows exactly this URL's origin (host and port). */
export function allowEntryOf(url: URL): AllowEntry {
  return { host: bareHost(url.hostname), port: effectivePort(url) };
}

export function isAllowed(list: readonly AllowEntry[] | undefined, host: string, port: number): boolean {
  const h = bareHost(host);
  return (list ?? []).some((e) => e.host === h && e.port === port);
}
