// SQL of bench/history.ts: the 1M-job seed, the candidate indexes, and the
// STAND-IN spend column and rollup. None of this is a migration: it runs on
// bench databases only. The index and rollup statements are what docs/PERFORMANCE.md
// proposes to adopt; `charged_micros` stands in for the job charges of issue 4
// (credit spend ledger) and is to be replaced by the real query when it lands.

export const MODELS = ['FACESWAP_V4', 'FACESWAP_V3_MULTI', 'FACESWAP_V2', 'FACESWAP_COMIC', 'BODY_SWAP'] as const;

/** STAND-IN for issue 4's charges: a nullable bigint of micro-units on the bench database's jobs table. */
export const STAND_IN_COLUMN_SQL = `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS charged_micros bigint`;

/**
 * `total` jobs over `keyIds`: the first key holds half of them (the key the page
 * queries use), the others share the rest. Spread over 180 days up to now, models
 * 40/20/15/15/10 %, statuses COMPLETED 85 %, FAILED 8 %, CANCELED 2 %, live 5 %;
 * seeds for the seeded models; a charge (stand-in) for completed jobs.
 * Params is a realistic normalised parameter object (~300 bytes).
 */
export function seedSql(total: number, from: number, count: number): string {
  return `
  INSERT INTO jobs (id, api_key_id, model, status, provider, params, seed, created_at, updated_at, run_at, finished_at, charged_micros)
  SELECT gen_random_uuid(), k.id, g.model, g.status::"JobStatus", 'segmind',
         jsonb_build_object('source_image', 'https://example.com/faces/source.jpg', 'target_image', 'https://example.com/faces/target.png',
           'model_type', 'speed', 'swap_type', 'head', 'style_type', 'normal', 'image_format', 'png', 'image_quality', 90,
           'hardware', 'fast', 'base64', false, 'seed', g.seed),
         g.seed, g.created_at, g.created_at, g.created_at,
         CASE WHEN g.status IN ('COMPLETED', 'FAILED', 'CANCELED') THEN g.created_at + interval '3 seconds' END,
         CASE WHEN g.status = 'COMPLETED' THEN (ARRAY[60000, 45000, 30000, 50000, 150000])[g.mi] END
  FROM (
    SELECT i,
           (ARRAY['FACESWAP_V4','FACESWAP_V3_MULTI','FACESWAP_V2','FACESWAP_COMIC','BODY_SWAP'])[m.mi] AS model, m.mi,
           CASE WHEN m.mi IN (1, 4) THEN (hashint4(i) & 2147483647) END AS seed,
           CASE WHEN r2 < 0.85 THEN 'COMPLETED' WHEN r2 < 0.93 THEN 'FAILED' WHEN r2 < 0.95 THEN 'CANCELED'
                WHEN r2 < 0.97 THEN 'QUEUED' WHEN r2 < 0.985 THEN 'SUBMITTED' ELSE 'PROCESSING' END AS status,
           date_trunc('milliseconds', now() - (${total} - i) * (interval '180 days' / ${total}) - random() * interval '1 second') AS created_at,
           CASE WHEN r3 < 0.5 THEN 0 ELSE 1 + (i % (SELECT count(*) - 1 FROM bench_keys)) END AS ki
    FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3 FROM generate_series(${from}, ${from + count - 1}) AS i) s,
    LATERAL (SELECT CASE WHEN r1 < 0.40 THEN 1 WHEN r1 < 0.60 THEN 2 WHEN r1 < 0.75 THEN 3 WHEN r1 < 0.90 THEN 4 ELSE 5 END AS mi) m
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
 * STAND-IN rollup for the spend aggregation: one row per (UTC day, key, model, status)
 * with the job count and the summed charge, kept exact by a statement-level-cheap
 * row trigger on jobs (insert, status or charge change, delete). With issue 4's
 * ledger, the same table and trigger move onto the charge rows.
 */
export const ROLLUP_SQL = [
  `CREATE TABLE job_spend_daily (
     day date NOT NULL,
     api_key_id uuid NOT NULL,
     model text NOT NULL,
     status "JobStatus" NOT NULL,
     jobs bigint NOT NULL DEFAULT 0,
     charged_micros bigint NOT NULL DEFAULT 0,
     PRIMARY KEY (api_key_id, day, model, status)
   )`,
  `CREATE INDEX job_spend_daily_day_idx ON job_spend_daily (day)`,
  `CREATE FUNCTION job_spend_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP IN ('UPDATE', 'DELETE') THEN
       UPDATE job_spend_daily SET jobs = jobs - 1, charged_micros = charged_micros - coalesce(OLD.charged_micros, 0)
       WHERE api_key_id = OLD.api_key_id AND day = (OLD.created_at AT TIME ZONE 'UTC')::date AND model = OLD.model AND status = OLD.status;
     END IF;
     IF TG_OP IN ('INSERT', 'UPDATE') THEN
       INSERT INTO job_spend_daily AS d (day, api_key_id, model, status, jobs, charged_micros)
       VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.api_key_id, NEW.model, NEW.status, 1, coalesce(NEW.charged_micros, 0))
       ON CONFLICT (api_key_id, day, model, status)
       DO UPDATE SET jobs = d.jobs + 1, charged_micros = d.charged_micros + EXCLUDED.charged_micros;
     END IF;
     RETURN NULL;
   END $$`,
  // Only the columns that move a job between rollup rows or change its charge fire it.
  `CREATE TRIGGER job_spend_daily_ins AFTER INSERT OR DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION job_spend_daily_apply()`,
  `CREATE TRIGGER job_spend_daily_upd AFTER UPDATE OF status, charged_micros ON jobs FOR EACH ROW
     WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.charged_micros IS DISTINCT FROM NEW.charged_micros)
     EXECUTE FUNCTION job_spend_daily_apply()`,
];

/** Fills the rollup from existing jobs (the one-off backfill of the migration). */
export const ROLLUP_BACKFILL_SQL = `
  INSERT INTO job_spend_daily (day, api_key_id, model, status, jobs, charged_micros)
  SELECT (created_at AT TIME ZONE 'UTC')::date, api_key_id, model, status, count(*), coalesce(sum(charged_micros), 0)
  FROM jobs GROUP BY 1, 2, 3, 4`;

/** The stand-in aggregation straight over jobs: every key, every day. */
export const SPEND_RAW_ALL_SQL = `
  SELECT model, date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, status, count(*) AS jobs, sum(charged_micros) AS charged_micros
  FROM jobs GROUP BY 1, 2, 3`;

/** The same from the rollup. */
export const SPEND_ROLLUP_ALL_SQL = `
  SELECT model, day, status, sum(jobs) AS jobs, sum(charged_micros) AS charged_micros
  FROM job_spend_daily GROUP BY 1, 2, 3`;

/** One key over [from, to) straight over jobs. */
export const SPEND_RAW_RANGE_SQL = `
  SELECT model, date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, status, count(*) AS jobs, sum(charged_micros) AS charged_micros
  FROM jobs WHERE api_key_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1, 2, 3`;

/**
 * One key over [from, to) from the rollup: the whole UTC days inside the range
 * from job_spend_daily, the partial first and last days from jobs, each as its
 * own index range on (api_key_id, created_at) (t0 = start of the first whole day,
 * t1 = start of the first day not whole; a range inside one day has t0 > t1 and
 * is read from jobs once). Same answer as SPEND_RAW_RANGE_SQL.
 */
export const SPEND_ROLLUP_RANGE_SQL = `
  WITH b AS MATERIALIZED (
    SELECT d0, d1, (d0::timestamp AT TIME ZONE 'UTC') AS t0, (d1::timestamp AT TIME ZONE 'UTC') AS t1
    FROM (SELECT CASE WHEN f = date_trunc('day', f) THEN f::date ELSE f::date + 1 END AS d0, t::date AS d1
          FROM (SELECT $2::timestamptz AT TIME ZONE 'UTC' AS f, $3::timestamptz AT TIME ZONE 'UTC' AS t) x) y
  ), parts AS (
    SELECT d.model, d.day::timestamp AS day, d.status, d.jobs, d.charged_micros
    FROM job_spend_daily d
    WHERE d.api_key_id = $1 AND d.day >= (SELECT d0 FROM b) AND d.day < (SELECT d1 FROM b)
    UNION ALL
    SELECT j.model, date_trunc('day', j.created_at AT TIME ZONE 'UTC'), j.status, 1, j.charged_micros
    FROM jobs j
    WHERE j.api_key_id = $1 AND j.created_at >= $2 AND j.created_at < least($3::timestamptz, (SELECT t0 FROM b))
    UNION ALL
    SELECT j.model, date_trunc('day', j.created_at AT TIME ZONE 'UTC'), j.status, 1, j.charged_micros
    FROM jobs j
    WHERE j.api_key_id = $1 AND j.created_at >= greatest($2::timestamptz, (SELECT t0 FROM b), (SELECT t1 FROM b)) AND j.created_at < $3
  )
  SELECT model, day, status, sum(jobs) AS jobs, sum(charged_micros) AS charged_micros FROM parts GROUP BY 1, 2, 3`;
