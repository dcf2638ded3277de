// The event hub reads an event and its job with hand-written SQL
// (src/services/job-rows.ts); it must be exactly what Prisma would give, or
// subscription fields would differ from the same fields read through queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEventWithJob } from '../src/services/job-rows.js';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { jobUuid } from './support/processes.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('findEventWithJob', () => {
  it('equals prisma.jobEvent.findUnique({ include: { job: true } }) for every event of a finished job', async () => {
    const res = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: { ...MODEL_CASES[0].input, idempotencyKey: 'rows-1' } });
    const id = jobUuid(res.data.result.id);
    await waitForFinal(t, res.data.result.id);
    const events = await t.app.db.prisma.jobEvent.findMany({ where: { jobId: id }, include: { job: true }, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    // Every kind of column is set on the finished job: bigint, json, dates, nullable ints.
    expect(events[2]!.job.chargedMicros).toBeTypeOf('bigint');
    expect(events[2]!.job.result).not.toBeNull();
    for (const e of events) expect(await findEventWithJob(t.app.db.pool, e.id)).toStrictEqual(e);
  });

  it('is null for an event that does not exist', async () => {
    expect(await findEventWithJob(t.app.db.pool, 999_999_999n)).toBeNull();
  });
});
