// SQL of bench/history.ts: the 1M-job seed with its ledger, and the history
// indexes the bench measures with and without (adopted in the migration
// history_indexes_ledger_daily). Runs on bench databases only.

import { MODELS as SPECS } from '../../src/models/registry.js';
import { parseUsd } from '../../src/util/money.js';

/** The models, their default prices in micros and whether they take a seed, read from the specs. */
export const MODELS = SPECS.map((m) => m.key);
const PRICES_SQL = `ARRAY[${SPECS.map((m) => parseUsd(m.price.price)!.toString()).join(', ')}]`;
const MODELS_SQL = `ARRAY[${MODELS.map((k) => `'${k}'`).join(',')}]`;
const SEEDED_SQL = SPECS.flatMap((m, i) => (m.params.some((p) => p.kind === 'seed') ? [i + 1] : [])).join(', ') || 'NULL';
/** The share of jobs of each model, in spec order: 40/20/15/15/10 % for the first five, the rest even in what is left. */
const MODEL_PICK_SQL = `CASE ${[0.40, 0.60, 0.75, 0.90].slice(0, SPECS.length - 1).map((upTo, i) => `WHEN r1 < ${upTo.toFixed(2)} THEN ${i + 1}`).join(' ')} ELSE ${Math.min(SPECS.length, 5)} END`;

/**
 * `total` jobs over `keyIds`: the first key holds half of them (the key the page
 * queries use), the others share the rest. Spread over 180 days up to now, models
 * 40/20/15/15/10 %, statuses COMPLETED 85 %, FAILED 8 %, CANCELED 2 %, live 5 %;
 * seeds for the seeded models; the estimate on every job and the charge of the
 * finished ones (the estimate when completed, 0 otherwise).
 * Params is a realistic normalised parameter object (~300 bytes).
 */
export function seedSql(total: number, from: number, count: number): string {
  return `
  INSERT INTO jobs (id, api_key_id, model, status, provider, params, seed, created_at, updated_at, run_at, finished_at,
                    estimated_micros, charged_micros)
  SELECT gen_random_uuid(), k.id, g.model, g.status::"JobStatus", 'segmind',
         jsonb_build_object('source_image', 'https://example.com/faces/source.jpg', 'target_image', 'https://example.com/faces/target.png',
           'model_type', 'speed', 'swap_type', 'head', 'style_type', 'normal', 'image_format', 'png', 'image_quality', 90,
           'hardware', 'fast', 'base64', false, 'seed', g.seed),
         g.seed, g.created_at, g.created_at, g.created_at,
         CASE WHEN g.status IN ('COMPLETED', 'FAILED', 'CANCELED') THEN g.created_at + interval '3 seconds' END,
         (${PRICES_SQL})[g.mi],
         CASE WHEN g.status = 'COMPLETED' THEN (${PRICES_SQL})[g.mi]
              WHEN g.status IN ('FAILED', 'CANCELED') THEN 0 END
  FROM (
    SELECT i,
           (${MODELS_SQL})[m.mi] AS model, m.mi,
           CASE WHEN m.mi IN (${SEEDED_SQL}) THEN (hashint4(i) & 2147483647) END AS seed,
           CASE WHEN r2 < 0.85 THEN 'COMPLETED' WHEN r2 < 0.93 THEN 'FAILED' WHEN r2 < 0.95 THEN 'CANCELED'
                WHEN r2 < 0.97 THEN 'QUEUED' WHEN r2 < 0.985 THEN 'SUBMITTED' ELSE 'PROCESSING' END AS status,
           date_trunc('milliseconds', now() - (${total} - i) * (interval '180 days' / ${total}) - random() * interval '1 second') AS created_at,
           CASE WHEN r3 < 0.5 THEN 0 ELSE 1 + (i % (SELECT count(*) - 1 FROM bench_keys)) END AS ki
    FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3 FROM generate_series(${from}, ${from + count - 1}) AS i) s,
    LATERAL (SELECT ${MODEL_PICK_SQL} AS mi) m
  ) g JOIN bench_keys k ON k.ord = g.ki`;
}

/** Indexes proposed for the history pages (the migration to adopt lists exactly these). */
export const HISTORY_INDEXES: Array<{ name: string; sql: string }> = [
  {
    name: 'jobs_api_key_id_model_created_at_id_idx',
    sql: `CREATE INDEX jobs_api_key_id_model_created_at_id_idx ON jobs (api_key_id, model, created_at DESC, id DESC)`,
  },
  {
    name: 'jobs_api_key_id_status_created_at_id_idx',
    sql: `CREATE INDEX jobs_api_key_id_status_created_at_id_idx ON jobs (api_key_id, status, created_at DESC, id DESC)`,
  },
];

/**
 * The ledger of the seeded jobs: one entry per finished job at its finish time,
 * written in bulk with the rollup trigger off, then the rollup filled as the
 * migration's backfill does.
 */
export const LEDGER_SEED_SQL = [
  `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_daily_add`,
  `INSERT INTO ledger_entries (api_key_id, job_id, model, status, amount_micros, created_at)
   SELECT api_key_id, id, model, status, charged_micros, finished_at FROM jobs WHERE charged_micros IS NOT NULL`,
  `ALTER TABLE ledger_entries ENABLE TRIGGER ledger_daily_add`,
  `INSERT INTO ledger_daily (day, api_key_id, model, status, entries, amount_micros)
   SELECT (created_at AT TIME ZONE 'UTC')::date, api_key_id, model, status, count(*), sum(amount_micros)
   FROM ledger_entries GROUP BY 1, 2, 3, 4`,
  `VACUUM ANALYZE ledger_entries`,
  `VACUUM ANALYZE ledger_daily`,
];

/** creditSpend's answer computed straight over the ledger, for the same range, key and groups (MODEL, DAY, STATUS). */
export const SPEND_RAW_SQL = `
  SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model, status::text AS status,
         sum(amount_micros)::text AS micros, count(*)::int AS n
  FROM ledger_entries
  WHERE created_at >= $1 AND created_at < $2 AND ($3::uuid IS NULL OR api_key_id = $3)
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
