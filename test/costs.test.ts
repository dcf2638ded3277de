// Cost: estimates, charges settled into the append-only ledger, credit
// readings, creditSpend against independent SQL, usage, and budgets that
// hold under a 50-way race.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceTable } from '../src/models/prices.js';
import { estimateCost } from '../src/services/pricing.js';
import { formatUsd, parseUsd } from '../src/util/money.js';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, inputTypeOf, MODEL_CASES, TARGET_URL, TINY_PNG_BASE64 } from './support/fixtures.js';
import { jobUuid, waitForFinalRows } from './support/processes.js';
import { waitUntil } from './support/wait.js';

// FACESWAP_V3_MULTI gets a failure price, to show failures charge what the table says.
const PRICES = JSON.stringify({ FACESWAP_V3_MULTI: { price: '0.01', failurePrice: '0.002', source: 'test' } });

let t: TestApp;
beforeAll(async () => {
  // A reading after every paid job (interval 0), so each job's reading can be checked; the throttle is tested in upstream-answers.test.ts.
  t = await startTestApp({ env: { PRICES, UPSTREAM_CREDIT_READING_INTERVAL_MS: '0' } });
});
afterAll(async () => {
  await t?.close();
});

const uniqueUrl = (i: number) => `https://example.com/faces/${i}-${Math.random().toString(36).slice(2)}.jpg`;
const CREATE_V2 = `mutation($input: CreateFaceswapV2JobInput!) { result: createFaceswapV2Job(input: $input) {
  __typename
  ... on SwapJob { id cost { estimated { micros usd } } }
  ... on BudgetExceededError { period message limit { usd } remaining { micros usd } required { micros usd } }
  ... on InvalidInputError { field rule }
  ... on IdempotencyConflictError { jobId } } }`;
const SET_BUDGET = `mutation($input: SetBudgetInput!) { setBudget(input: $input) {
  __typename
  ... on BudgetChanged { apiKey { id usage { budgets { period limit { usd } committed { micros } remaining { micros } } } } }
  ... on InvalidInputError { field rule }
  ... on ApiKeyNotFoundError { id }
  ... on NotAdminError { message } } }`;
const VIEWER = `{ viewer { id name isAdmin usage { spentThisMonth { micros } spentTotal { micros } reserved { micros } jobsThisMonth
  budgets { period limit { micros } committed { micros } remaining { micros } } } } }`;

async function sql<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
  return (await t.app.db.pool.query(text, params)).rows as T[];
}

async function newKeyWithId(name: string, admin = false): Promise<{ secret: string; id: string }> {
  const secret = await t.newKey(name, { admin });
  const id = (await t.gql(VIEWER, undefined, secret)).data.viewer.id;
  return { secret, id };
}

describe('money and the price table', () => {
  it('parses and formats dollars exactly, refusing floats beyond six decimals', () => {
    expect(parseUsd('0.065')).toBe(65_000n);
    expect(parseUsd('0.2687')).toBe(268_700n);
    expect(parseUsd('12')).toBe(12_000_000n);
    expect(parseUsd('0.000001')).toBe(1n);
    for (const bad of ['-1', '1.0000001', '1e3', '', 'abc', '.5', '1.']) expect(parseUsd(bad)).toBeNull();
    expect(formatUsd(65_000n)).toBe('0.065');
    expect(formatUsd(1_000_000n)).toBe('1.00');
    expect(formatUsd(268_700n)).toBe('0.2687');
    expect(formatUsd(0n)).toBe('0.00');
    // 0.1 + 0.2 in floats is 0.30000000000000004; in micros it is exact.
    expect(formatUsd(parseUsd('0.1')! + parseUsd('0.2')!)).toBe('0.30');
  });

  it('defaults: the vendor figures for comic and body swap; options that change the price', () => {
    const table = loadPriceTable(undefined);
    expect(estimateCost(table, 'segmind', 'FACESWAP_COMIC', {}).estimatedMicros).toBe(65_000n);
    expect(estimateCost(table, 'segmind', 'BODY_SWAP', {}).estimatedMicros).toBe(268_700n);
    expect(estimateCost(table, 'segmind', 'FACESWAP_V4', { hardware: 'fast' }).estimatedMicros).toBe(40_000n);
    expect(estimateCost(table, 'segmind', 'FACESWAP_V4', { hardware: 'cost' }).estimatedMicros).toBe(20_000n);
    expect(estimateCost(table, 'local', 'FACESWAP_V2', {})).toEqual({ estimatedMicros: 0n, failureMicros: 0n });
  });

  it('PRICES errors name the variable, the model and the rule', () => {
    expect(() => loadPriceTable('{')).toThrow(/PRICES must be JSON/);
    expect(() => loadPriceTable('{"NOPE":{"price":"1"}}')).toThrow(/unknown model NOPE/);
    expect(() => loadPriceTable('{"FACESWAP_V2":{"price":0.01}}')).toThrow(/PRICES.FACESWAP_V2.price must be a decimal amount/);
    expect(() => loadPriceTable('{"FACESWAP_V2":{"price":"0.0000001"}}')).toThrow(/at most 6 decimals/);
    expect(() => loadPriceTable('{"FACESWAP_V2":{"price":"0.01","failurePrice":"0.02"}}')).toThrow(/failurePrice must not exceed/);
    expect(() => loadPriceTable('{"FACESWAP_V4":{"price":"0.01","options":{"hardware":{"gpu":"1"}}}}')).toThrow(/"gpu" is not one of fast, cost/);
    expect(() => loadPriceTable('{"FACESWAP_V4":{"price":"0.01","options":{"seed":{"1":"1"}}}}')).toThrow(/seed is not an enum parameter/);
  });
});

describe('charges and the ledger', () => {
  it('several hundred jobs with a mix of failures: ledger = sum of job charges = creditSpend, by rule', async () => {
    const other = await newKeyWithId('spend-other');
    t.emulator.injectFault({ match: { model: 'faceswap-v2' }, outcome: 'FAILED', probability: 0.25, seed: 11 });
    t.emulator.injectFault({ match: { model: 'ai-body-swap' }, outcome: 'FAILED', probability: 0.25, seed: 12 });
    t.emulator.injectFault({ match: { model: 'faceswap-v4', method: 'POST' }, response: { status: 400 }, probability: 0.2, seed: 13 });
    t.emulator.injectFault({ match: { model: 'faceswap-v3-multifaceswap', method: 'POST' }, response: { status: 422 }, probability: 0.25, seed: 14 });
    t.emulator.injectFault({ match: { model: 'faceswap-comic', method: 'POST' }, response: { status: 504 }, probability: 0.2, seed: 15 });
    t.emulator.injectFault({ match: { path: '/v2/requests/*' }, response: { status: 503 }, probability: 0.1, seed: 16 });
    try {
      const ids: string[] = [];
      const canceled: string[] = [];
      const N = 300;
      let next = 0;
      await Promise.all(Array.from({ length: 12 }, async () => {
        while (next < N) {
          const i = next++;
          const c = MODEL_CASES[i % MODEL_CASES.length]!;
          const input = c.model === 'BODY_SWAP' ? { characterImage: uniqueUrl(i) } : { ...c.input, sourceImage: uniqueUrl(i) };
          const key = i % 7 === 0 ? other.secret : t.key;
          const res = await t.gql(createMutation(c.mutation, inputTypeOf(c.mutation)), { input }, key);
          const id = res.data?.result?.id;
          if (!id) throw new Error(JSON.stringify(res));
          ids.push(jobUuid(id));
          // Every 23rd is canceled at once: before or after it was sent, as the race falls.
          if (i % 23 === 0) {
            await t.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id }, key);
            canceled.push(jobUuid(id));
          }
        }
      }));
      await waitForFinalRows(t.app.db.pool, ids);

      const jobs = await sql(
        `SELECT id, model, status::text, error_code, upstream_request_id, estimated_micros::text AS est,
                failure_micros::text AS fail, charged_micros::text AS charged
         FROM jobs WHERE id = ANY($1::uuid[])`, [ids]);
      const statuses = new Set(jobs.map((j) => j.error_code ?? j.status));
      // The mix really happened.
      for (const s of ['COMPLETED', 'CONTENT_BLOCKED', 'INVALID_INPUT', 'UPSTREAM_OUTCOME_UNKNOWN', 'CANCELED']) expect(statuses).toContain(s);
      for (const j of jobs) {
        expect(j.charged, `job ${j.id} settled`).not.toBeNull();
        if (j.status === 'COMPLETED' || j.error_code === 'UPSTREAM_OUTCOME_UNKNOWN') expect(j.charged).toBe(j.est);
        else if (j.status === 'FAILED') expect(j.charged).toBe(j.fail);
      }
      expect(jobs.filter((j) => j.model === 'FACESWAP_V3_MULTI' && j.status === 'FAILED').every((j) => j.charged === '2000')).toBe(true);
      expect(jobs.some((j) => j.model === 'FACESWAP_V3_MULTI' && j.status === 'FAILED')).toBe(true);

      // One ledger entry per job, equal to its charge; the totals agree.
      const [mismatch] = await sql(
        `SELECT count(*)::int AS n FROM jobs j LEFT JOIN ledger_entries l ON l.job_id = j.id
         WHERE j.id = ANY($1::uuid[]) AND (l.id IS NULL OR l.amount_micros <> j.charged_micros OR l.status <> j.status)`, [ids]);
      expect(mismatch.n).toBe(0);
      const [totals] = await sql(
        `SELECT (SELECT sum(amount_micros) FROM ledger_entries WHERE job_id = ANY($1::uuid[]))::text AS ledger,
                (SELECT sum(charged_micros) FROM jobs WHERE id = ANY($1::uuid[]))::text AS jobs,
                (SELECT count(*) FROM ledger_entries WHERE job_id = ANY($1::uuid[]))::int AS entries`, [ids]);
      expect(totals.ledger).toBe(totals.jobs);
      expect(totals.entries).toBe(N);

      // creditSpend (admin: every key) against an independent sum over the jobs table.
      const admin = await newKeyWithId('spend-admin', true);
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 3_600_000).toISOString();
      const SPEND = `query($from: DateTime!, $to: DateTime!, $groupBy: [SpendGrouping!]!, $key: ID) {
        creditSpend(from: $from, to: $to, groupBy: $groupBy, apiKey: $key) {
          total { micros } count groups { model status day apiKeyId total { micros } count } } }`;
      const spend = (await t.gql(SPEND, { from, to, groupBy: ['MODEL', 'STATUS'] }, admin.secret)).data.creditSpend;
      const expected = await sql(
        `SELECT model, status::text AS status, sum(charged_micros)::text AS micros, count(*)::int AS n
         FROM jobs WHERE charged_micros IS NOT NULL GROUP BY model, status ORDER BY model, status`);
      expect(spend.groups.map((g: any) => [g.model, g.status, g.total.micros, g.count]))
        .toEqual(expected.map((e) => [e.model, e.status, e.micros, e.n]));
      const [all] = await sql(`SELECT sum(charged_micros)::text AS micros, count(*)::int AS n FROM jobs WHERE charged_micros IS NOT NULL`);
      expect(spend.total.micros).toBe(all.micros);
      expect(spend.count).toBe(all.n);

      // Per key: the admin sees both keys; an ordinary key only its own, whatever it asks.
      const byKey = (await t.gql(SPEND, { from, to, groupBy: ['API_KEY', 'DAY'] }, admin.secret)).data.creditSpend;
      const keyTotals = await sql(
        `SELECT api_key_id::text AS k, sum(charged_micros)::text AS micros FROM jobs WHERE charged_micros IS NOT NULL GROUP BY 1`);
      expect(byKey.groups).toHaveLength(keyTotals.length);
      for (const g of byKey.groups) {
        expect(g.day).toBe(new Date().toISOString().slice(0, 10));
        expect(g.total.micros).toBe(keyTotals.find((k) => k.k === Buffer.from(g.apiKeyId, 'base64').toString().split(':')[1])!.micros);
      }
      const own = (await t.gql(SPEND, { from, to, groupBy: ['API_KEY'] }, other.secret)).data.creditSpend;
      expect(own.groups).toEqual([expect.objectContaining({ apiKeyId: other.id })]);
      const [otherSum] = await sql(`SELECT sum(charged_micros)::text AS m FROM jobs j JOIN api_keys k ON k.id = j.api_key_id WHERE k.name = 'spend-other'`);
      expect(own.total.micros).toBe(otherSum.m);
      const forbidden = await t.gql(SPEND, { from, to, groupBy: [], key: admin.id }, other.secret);
      expect(forbidden.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'apiKey' });
    } finally {
      t.emulator.clearFaults();
    }
  });

  it('creditSpend over whole days (the daily rollup) and partial ones equals the ledger, for any range', async () => {
    const key = await newKeyWithId('rollup');
    const keyId = Buffer.from(key.id, 'base64').toString().split(':')[1]!;
    // Charges spread over five days, at awkward times of day, written as settlements are.
    await sql(
      `WITH j AS (
         INSERT INTO jobs (id, api_key_id, model, provider, params, status, estimated_micros, charged_micros, created_at)
         SELECT gen_random_uuid(), $1, (ARRAY['FACESWAP_V2','FACESWAP_COMIC','BODY_SWAP'])[1 + i % 3], 'segmind', '{}',
                (ARRAY['COMPLETED','FAILED','COMPLETED','CANCELED'])[1 + i % 4]::"JobStatus", 1000 + i, 1000 + i,
                now() - (i * interval '97 minutes')
         FROM generate_series(0, 80) i RETURNING id, api_key_id, model, status, charged_micros, created_at)
       INSERT INTO ledger_entries (api_key_id, job_id, model, status, amount_micros, created_at)
       SELECT api_key_id, id, model, status, charged_micros, created_at FROM j`, [keyId]);
    const SPEND = `query($from: DateTime!, $to: DateTime!) { creditSpend(from: $from, to: $to, groupBy: [DAY, MODEL, STATUS]) {
      total { micros } count groups { day model status total { micros } count } } }`;
    const hour = 3_600_000;
    const ranges = [
      [Date.now() - 6 * 24 * hour, Date.now() + hour], // every charge: whole days and two partial ones
      [Date.now() - 50 * hour - 17_000, Date.now() - 3 * hour], // partial days at both ends
      [Date.now() - 5 * hour, Date.now() - 4 * hour], // within one day
    ];
    for (const [from, to] of ranges) {
      const got = (await t.gql(SPEND, { from: new Date(from!).toISOString(), to: new Date(to!).toISOString() }, key.secret)).data.creditSpend;
      const want = await sql(
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model, status::text AS status,
                sum(amount_micros)::text AS micros, count(*)::int AS n
         FROM ledger_entries WHERE api_key_id = $1 AND created_at >= $2 AND created_at < $3
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, [keyId, new Date(from!), new Date(to!)]);
      expect(got.groups.map((g: any) => [g.day, g.model, g.status, g.total.micros, g.count]))
        .toEqual(want.map((w) => [w.day, w.model, w.status, w.micros, w.n]));
      expect(got.count).toBe(want.reduce((n, w) => n + w.n, 0));
    }
    // The rollup itself holds exactly the ledger's per-day sums.
    const [drift] = await sql(
      `SELECT count(*)::int AS n FROM ledger_daily d FULL JOIN (
         SELECT (created_at AT TIME ZONE 'UTC')::date AS day, api_key_id, model, status, count(*) AS entries, sum(amount_micros) AS amount
         FROM ledger_entries GROUP BY 1, 2, 3, 4) l USING (day, api_key_id, model, status)
       WHERE d.entries IS DISTINCT FROM l.entries OR d.amount_micros IS DISTINCT FROM l.amount`);
    expect(drift.n).toBe(0);
  });

  it('records the upstream credit reading after each paid job; readings reconcile with the vendor balance', async () => {
    const key = await newKeyWithId('reconcile');
    t.emulator.setCreditsMicros(50_000_000);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const c = MODEL_CASES[i % MODEL_CASES.length]!;
      const input = c.model === 'BODY_SWAP' ? { characterImage: uniqueUrl(i) } : { ...c.input, sourceImage: uniqueUrl(i) };
      ids.push(jobUuid((await t.gql(createMutation(c.mutation, inputTypeOf(c.mutation)), { input }, key.secret)).data.result.id));
    }
    const rows = await waitForFinalRows(t.app.db.pool, ids);
    expect(rows.every((r) => r.status === 'COMPLETED')).toBe(true);
    // Each reading follows its job's completion: wait until all ten are in.
    let ledger: any;
    await waitUntil(async () => {
      [ledger] = await sql(
        `SELECT sum(l.amount_micros)::text AS spent, min(r.credits_micros)::text AS lowest, count(r.credits_micros)::int AS readings
         FROM ledger_entries l LEFT JOIN upstream_credit_readings r USING (job_id) WHERE l.job_id = ANY($1::uuid[])`, [ids]);
      return ledger.readings === 10;
    }, () => `readings: ${JSON.stringify(ledger)}`);
    // The emulator bills the same figures: what the vendor took equals what the ledger charged.
    expect(BigInt(50_000_000 - t.emulator.creditsMicros())).toBe(BigInt(ledger.spent));
    expect(Number(ledger.lowest)).toBe(t.emulator.creditsMicros());
    const job = (await t.gql(`query($id: ID!) { job(id: $id) { cost { estimated { micros } charged { micros } upstreamCreditsRemaining { usd } } } }`,
      { id: Buffer.from(`FaceswapV4Job:${ids[0]}`).toString('base64') }, key.secret)).data.job;
    expect(job.cost.charged).toEqual(job.cost.estimated);
    expect(job.cost.upstreamCreditsRemaining.usd).toMatch(/^\d+\.\d{2,6}$/);
  });

  it('a credit reading that fails leaves the job completed and charged, with no reading', async () => {
    const served = t.emulator.stats().faultsServed;
    t.emulator.injectFault({ match: { method: 'GET', path: '/v1/get-user-credits' }, response: { status: 500 } });
    try {
      const res = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: { ...MODEL_CASES[0].input, sourceImage: uniqueUrl(99) } });
      const final = await waitForFinal(t, res.data.result.id);
      expect(final.status).toBe('COMPLETED');
      await waitUntil(() => t.emulator.stats().faultsServed > served, () => 'the credit reading was never tried');
      expect(t.emulator.stats().faultsServed).toBe(served + 1);
      const job = (await t.gql(`query($id: ID!) { job(id: $id) { cost { charged { micros } upstreamCreditsRemaining { usd } } } }`, { id: final.id })).data.job;
      expect(Number(job.cost.charged.micros)).toBeGreaterThan(0);
      expect(job.cost.upstreamCreditsRemaining).toBeNull();
      expect(await sql(`SELECT 1 FROM upstream_credit_readings WHERE job_id = $1`, [jobUuid(final.id)])).toEqual([]);
    } finally {
      t.emulator.clearFaults();
    }
  });

  it('a cancel before sending charges nothing; the ledger refuses edits', async () => {
    const paused = await startTestApp({ worker: false, env: { PRICES } });
    try {
      const res = await paused.gql(createMutation('createFaceswapV2Job', 'CreateFaceswapV2JobInput'), { input: MODEL_CASES[2].input });
      const id = res.data.result.id;
      await paused.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id });
      const cost = (await paused.gql(`query($id: ID!) { job(id: $id) { status cost { estimated { usd } charged { usd } } } }`, { id })).data.job;
      expect(cost).toEqual({ status: 'CANCELED', cost: { estimated: { usd: '0.01' }, charged: { usd: '0.00' } } });
      await expect(paused.app.db.pool.query(`UPDATE ledger_entries SET amount_micros = 0`)).rejects.toThrow(/append-only/);
      await expect(paused.app.db.pool.query(`DELETE FROM ledger_entries`)).rejects.toThrow(/append-only/);
      // A cancel after the upstream accepted it pays the estimate: the vendor runs it anyway.
      const sent = (await paused.gql(createMutation('createFaceswapV2Job', 'CreateFaceswapV2JobInput'), { input: MODEL_CASES[2].input })).data.result.id;
      await paused.app.db.pool.query(`UPDATE jobs SET status = 'SUBMITTED', upstream_request_id = 'r-1' WHERE id = $1`, [jobUuid(sent)]);
      await paused.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: sent });
      const after = (await paused.gql(`query($id: ID!) { job(id: $id) { cost { charged { usd } } } }`, { id: sent })).data.job;
      expect(after.cost.charged.usd).toBe('0.01');
    } finally {
      await paused.close();
    }
  });
});

describe('budgets', () => {
  it('50 concurrent creates for a budget that fits 10 → exactly 10 jobs, never overspent', async () => {
    const admin = await newKeyWithId('budget-admin', true);
    const capped = await newKeyWithId('capped');
    const set = (await t.gql(SET_BUDGET, { input: { apiKey: capped.id, period: 'TOTAL', limit: '0.10' } }, admin.secret)).data.setBudget;
    expect(set.__typename).toBe('BudgetChanged');
    expect(set.apiKey.usage.budgets).toEqual([{ period: 'TOTAL', limit: { usd: '0.10' }, committed: { micros: '0' }, remaining: { micros: '100000' } }]);

    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(i), targetImage: TINY_PNG_BASE64 } }, capped.secret)));
    const kinds = results.map((r) => r.data.result.__typename);
    expect(kinds.filter((k) => k === 'FaceswapV2Job')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'BudgetExceededError')).toHaveLength(40);
    const refusal = results.map((r) => r.data.result).find((r) => r.__typename === 'BudgetExceededError');
    expect(refusal).toMatchObject({ period: 'TOTAL', limit: { usd: '0.10' }, remaining: { micros: '0' }, required: { usd: '0.01' } });
    expect(refusal.message).toMatch(/nothing was created/);

    const [row] = await sql(`SELECT count(*)::int AS n, sum(estimated_micros)::text AS est FROM jobs j JOIN api_keys k ON k.id = j.api_key_id WHERE k.name = 'capped'`);
    expect(row).toEqual({ n: 10, est: '100000' });
    // Settled as they complete: still exactly the budget, and still full.
    const ids = (await sql(`SELECT j.id FROM jobs j JOIN api_keys k ON k.id = j.api_key_id WHERE k.name = 'capped'`)).map((r) => r.id);
    await waitForFinalRows(t.app.db.pool, ids);
    const usage = (await t.gql(VIEWER, undefined, capped.secret)).data.viewer.usage;
    expect(usage).toMatchObject({ spentTotal: { micros: '100000' }, reserved: { micros: '0' }, jobsThisMonth: 10 });
    expect(usage.budgets[0]).toMatchObject({ committed: { micros: '100000' }, remaining: { micros: '0' } });
    expect((await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(99), targetImage: TINY_PNG_BASE64 } }, capped.secret)).data.result.__typename)
      .toBe('BudgetExceededError');

    // Raising the budget lets the next job in; removing it lifts the cap.
    await t.gql(SET_BUDGET, { input: { apiKey: capped.id, period: 'TOTAL', limit: '0.11' } }, admin.secret);
    expect((await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(100), targetImage: TINY_PNG_BASE64 } }, capped.secret)).data.result.__typename)
      .toBe('FaceswapV2Job');
    const removed = await t.gql(`mutation($k: ID!) { removeBudget(apiKey: $k, period: TOTAL) { __typename } }`, { k: capped.id }, admin.secret);
    expect(removed.data.removeBudget.__typename).toBe('BudgetChanged');
    expect((await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(101), targetImage: TINY_PNG_BASE64 } }, capped.secret)).data.result.__typename)
      .toBe('FaceswapV2Job');
  });

  it('a MONTH budget counts this month; a failed job releases its reservation; a retried create is answered with its job', async () => {
    const admin = await newKeyWithId('month-admin', true);
    const capped = await newKeyWithId('month-capped');
    await t.gql(SET_BUDGET, { input: { apiKey: capped.id, period: 'MONTH', limit: '0.01' } }, admin.secret);
    // A charge from last month does not count against this month's budget (it would fill it).
    const keyId = Buffer.from(capped.id, 'base64').toString().split(':')[1]!;
    await sql(
      `WITH j AS (
         INSERT INTO jobs (id, api_key_id, model, provider, params, status, estimated_micros, charged_micros, created_at)
         VALUES (gen_random_uuid(), $1, 'FACESWAP_V2', 'segmind', '{}', 'COMPLETED', 10000, 10000, now() - interval '40 days')
         RETURNING id, api_key_id, model, status, charged_micros, created_at)
       INSERT INTO ledger_entries (api_key_id, job_id, model, status, amount_micros, created_at)
       SELECT api_key_id, id, model, status, charged_micros, created_at FROM j`, [keyId]);
    t.emulator.injectFault({ match: { model: 'faceswap-v2' }, outcome: 'FAILED', times: 1 });
    const failing = (await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(2), targetImage: TINY_PNG_BASE64 } }, capped.secret)).data.result;
    expect(failing.__typename).toBe('FaceswapV2Job');
    const blocked = (await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(3), targetImage: TINY_PNG_BASE64, idempotencyKey: 'k-3' } }, capped.secret)).data.result;
    expect(blocked).toMatchObject({ __typename: 'BudgetExceededError', period: 'MONTH', remaining: { micros: '0' } });
    expect((await waitForFinal(t, failing.id, { key: capped.secret })).failure.code).toBe('CONTENT_BLOCKED');
    // The failure charged nothing, so the budget has room again.
    const retried = (await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(3), targetImage: TINY_PNG_BASE64, idempotencyKey: 'k-3' } }, capped.secret)).data.result;
    expect(retried.__typename).toBe('FaceswapV2Job');
    // Now full: a new request is refused, while a used key is still answered as a used key.
    const fresh = (await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(4), targetImage: TINY_PNG_BASE64 } }, capped.secret)).data.result;
    expect(fresh.__typename).toBe('BudgetExceededError');
    const reused = (await t.gql(CREATE_V2, { input: { sourceImage: uniqueUrl(5), targetImage: TINY_PNG_BASE64, idempotencyKey: 'k-3' } }, capped.secret)).data.result;
    expect(reused.__typename).toBe('IdempotencyConflictError');
    // A retry of the request that took the last of the budget is answered with its job, not a refusal.
    const sameInput = { sourceImage: 'https://example.com/faces/same.jpg', targetImage: TINY_PNG_BASE64, idempotencyKey: 'k-4' };
    await t.gql(SET_BUDGET, { input: { apiKey: capped.id, period: 'MONTH', limit: '0.02' } }, admin.secret);
    const first = (await t.gql(CREATE_V2, { input: sameInput }, capped.secret)).data.result;
    const replay = (await t.gql(CREATE_V2, { input: sameInput }, capped.secret)).data.result;
    expect(replay).toEqual(first);
  });

  it('setBudget and removeBudget errors are typed and change nothing', async () => {
    const admin = await newKeyWithId('errors-admin', true);
    const plain = await newKeyWithId('errors-plain');
    const notAdmin = (await t.gql(SET_BUDGET, { input: { apiKey: plain.id, period: 'TOTAL', limit: '1' } }, plain.secret)).data.setBudget;
    expect(notAdmin.__typename).toBe('NotAdminError');
    const badLimit = (await t.gql(SET_BUDGET, { input: { apiKey: plain.id, period: 'TOTAL', limit: '1.0000001' } }, admin.secret)).data.setBudget;
    expect(badLimit).toEqual({ __typename: 'InvalidInputError', field: 'input.limit', rule: 'usd' });
    const negative = (await t.gql(SET_BUDGET, { input: { apiKey: plain.id, period: 'TOTAL', limit: '-5' } }, admin.secret)).data.setBudget;
    expect(negative).toEqual({ __typename: 'InvalidInputError', field: 'input.limit', rule: 'usd' });
    const badId = (await t.gql(SET_BUDGET, { input: { apiKey: 'nope', period: 'TOTAL', limit: '1' } }, admin.secret)).data.setBudget;
    expect(badId).toEqual({ __typename: 'InvalidInputError', field: 'input.apiKey', rule: 'global-id' });
    const ghost = Buffer.from('ApiKey:00000000-0000-4000-8000-000000000000').toString('base64');
    const unknown = (await t.gql(SET_BUDGET, { input: { apiKey: ghost, period: 'TOTAL', limit: '1' } }, admin.secret)).data.setBudget;
    expect(unknown).toEqual({ __typename: 'ApiKeyNotFoundError', id: ghost });
    const removeByPlain = await t.gql(`mutation($k: ID!) { removeBudget(apiKey: $k, period: MONTH) { __typename } }`, { k: plain.id }, plain.secret);
    expect(removeByPlain.data.removeBudget.__typename).toBe('NotAdminError');
    const [n] = await sql(`SELECT count(*)::int AS n FROM budgets b JOIN api_keys k ON k.id = b.api_key_id WHERE k.name = 'errors-plain'`);
    expect(n.n).toBe(0);
  });
});

describe('queries over cost', () => {
  it('job.cost per model and option; history filtered by cost range', async () => {
    const key = await newKeyWithId('cost-filter');
    const v4 = `mutation($input: CreateFaceswapV4JobInput!) { result: createFaceswapV4Job(input: $input) { ... on SwapJob { id cost { estimated { usd } } } } }`;
    const fast = (await t.gql(v4, { input: { sourceImage: uniqueUrl(1), targetImage: TARGET_URL } }, key.secret)).data.result;
    const cheap = (await t.gql(v4, { input: { sourceImage: uniqueUrl(2), targetImage: TARGET_URL, hardware: 'COST' } }, key.secret)).data.result;
    const comic = (await t.gql(createMutation('createFaceswapComicJob', 'CreateFaceswapComicJobInput'), { input: MODEL_CASES[3].input }, key.secret)).data.result;
    expect(fast.cost.estimated.usd).toBe('0.04');
    expect(cheap.cost.estimated.usd).toBe('0.02');
    const LIST = `query($f: JobFilter) { jobs(filter: $f) { edges { node { id cost { estimated { usd } } } } } }`;
    const between = (await t.gql(LIST, { f: { costMin: '0.03', costMax: '0.07' } }, key.secret)).data.jobs.edges.map((e: any) => e.node.id);
    expect(between.sort()).toEqual([fast.id, comic.id].sort());
    const upTo = (await t.gql(LIST, { f: { costMax: '0.02' } }, key.secret)).data.jobs.edges.map((e: any) => e.node.id);
    expect(upTo).toEqual([cheap.id]);
    const bad = await t.gql(LIST, { f: { costMin: '1e2' } }, key.secret);
    expect(bad.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.costMin', rule: 'usd' });
    const inverted = await t.gql(LIST, { f: { costMin: '0.05', costMax: '0.01' } }, key.secret);
    expect(inverted.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.costMax', rule: 'at-least-cost-min' });
  });

  it('creditSpend and usage refuse bad ranges, bad ids and other keys for ordinary keys; apiKeys is admin-only', async () => {
    const plain = await newKeyWithId('q-plain');
    const admin = await newKeyWithId('q-admin', true);
    const SPEND = `query($from: DateTime!, $to: DateTime!, $k: ID) { creditSpend(from: $from, to: $to, apiKey: $k) { count } }`;
    const now = new Date().toISOString();
    const inverted = await t.gql(SPEND, { from: now, to: now }, plain.secret);
    expect(inverted.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to', rule: 'after-from' });
    const huge = await t.gql(SPEND, { from: '2000-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, plain.secret);
    expect(huge.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to', rule: 'range' });
    const badId = await t.gql(SPEND, { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', k: 'x' }, plain.secret);
    expect(badId.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'apiKey', rule: 'global-id' });
    const usageOther = await t.gql(`query($k: ID) { usage(apiKey: $k) { reserved { micros } } }`, { k: admin.id }, plain.secret);
    expect(usageOther.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'apiKey' });
    const ghost = Buffer.from('ApiKey:00000000-0000-4000-8000-000000000000').toString('base64');
    const unknown = await t.gql(`query($k: ID) { usage(apiKey: $k) { reserved { micros } } }`, { k: ghost }, admin.secret);
    expect(unknown.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'apiKey', rule: 'exists' });
    const usageByAdmin = await t.gql(`query($k: ID) { usage(apiKey: $k) { reserved { micros } } }`, { k: plain.id }, admin.secret);
    expect(usageByAdmin.data.usage.reserved.micros).toBe('0');
    expect((await t.gql(`{ apiKeys { id } }`, undefined, plain.secret)).errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const keys = (await t.gql(`{ apiKeys { id name isAdmin } }`, undefined, admin.secret)).data.apiKeys;
    expect(keys).toEqual(expect.arrayContaining([{ id: plain.id, name: 'q-plain', isAdmin: false }, { id: admin.id, name: 'q-admin', isAdmin: true }]));
  });
});
