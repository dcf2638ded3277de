// The upstream account's balance read after each paid job (UPSTREAM_CREDIT_READINGS),
// kept beside the job so the ledger can be checked against the vendor's figures.
import type pg from 'pg';
import { prepared } from '../db/prepared.js';

// A job completes once; should its reading be taken twice (a lease lost and
// won again), the first stays.
const RECORD_SQL = `INSERT INTO upstream_credit_readings (job_id, credits_micros) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING`;

export async function recordCreditReading(pool: pg.Pool, jobId: string, creditsMicros: bigint): Promise<void> {
  await pool.query(prepared(RECORD_SQL, [jobId, creditsMicros.toString()]));
}
