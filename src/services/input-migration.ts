// The data half of migration 20261124090000_input_artifacts: jobs written
// before it hold inline images in their params; this moves each one to the
// artifact store and leaves the reference (input-artifacts.ts). The rows to
// move are those of the migration's partial index, jobs_inline_inputs_idx: a
// moved row leaves it, and its trigger keeps new ones out, so once it is empty
// every later start costs one index probe.
//
// Run at start after the SQL migrations, under an advisory lock, so an API
// and workers starting together move each row once. Rows are read one at a
// time (an old row can hold two images of MAX_IMAGE_BYTES), in id order, so
// a restart after a crash goes on where it stopped.
import pg from 'pg';
import { MODELS } from '../models/registry.js';
import type { ArtifactStore } from './artifacts.js';
import { isInlineImage, storeInlineImage } from './input-artifacts.js';
import { componentLogger } from '../util/logger.js';

const MOVE_LOCK_KEY = 0x53574149n; // "SWAI"

/** The wire names of every model's image fields: what the migration's jobs_params_inline_images() looks at. */
export const IMAGE_WIRE_NAMES: ReadonlySet<string> = new Set(
  MODELS.flatMap((m) => m.params.filter((p) => p.kind === 'image').map((p) => p.wire)),
);

/** Moves the inline images of rows written before the migration; returns how many rows it changed. */
export async function moveInlineInputs(
  databaseUrl: string,
  store: ArtifactStore,
  log: (line: string) => void = (l) => componentLogger('inputs').info(l),
): Promise<{ moved: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MOVE_LOCK_KEY.toString()]);
    let moved = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      // The predicate of jobs_inline_inputs_idx, so the planner walks that index (empty: one probe).
      const { rows } = await client.query<{ id: string; params: Record<string, unknown> }>(
        `SELECT id, params FROM jobs WHERE id > $1 AND jobs_params_inline_images(params) ORDER BY id LIMIT 1`, [after]);
      const row = rows[0];
      if (!row) break;
      const params = { ...row.params };
      for (const [wire, value] of Object.entries(row.params)) {
        if (IMAGE_WIRE_NAMES.has(wire) && isInlineImage(value)) params[wire] = await storeInlineImage(value, store);
      }
      // Only params change: the job's own history (updated_at included) is not changed by where its inputs are kept.
      await client.query('UPDATE jobs SET params = $2::jsonb WHERE id = $1', [row.id, JSON.stringify(params)]);
      after = row.id;
      moved += 1;
      if (moved % 100 === 0) log(`[inputs] moved the inline images of ${moved} jobs to the artifact store`);
    }
    if (moved > 0) log(`[inputs] moved the inline images of ${moved} jobs to the artifact store; done`);
    return { moved };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MOVE_LOCK_KEY.toString()]).catch(() => undefined);
    await client.end();
  }
}
