// Statements run on every job step are sent as named prepared statements, so
// each connection parses and plans them once instead of on every call: the
// CTE statements of job-transitions.ts and jobs.ts spent more time being
// planned than executed (figures in docs/PERFORMANCE.md).
import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';

const names = new Map<string, string>();

/** The query as a named prepared statement; the name is derived from the text, so equal texts share one. */
export function prepared(text: string, values: unknown[]): QueryConfig {
  let name = names.get(text);
  if (!name) {
    name = `sy_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values };
}
