// Issue 15, item 3: OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT
// is set. Spans are exported over OTLP/HTTP (JSON) to a receiver in this test:
// a server span per GraphQL operation continuing the client's traceparent, a
// span per job step and per upstream call, and the worker's spans children of
// the create mutation's through the job row's trace_parent: the worker runs
// in a process of its own, so the row is the only way the context can travel.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracingEnabled } from '../src/util/tracing.js';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { jobUuid, spawnWorker, stopProcess, type SpawnedProcess } from './support/processes.js';
import { waitUntil } from './support/wait.js';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  /** service.name of the process that exported it (added here from its resource). */
  service: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

const SPAN_KIND = { SERVER: 2, CLIENT: 3, CONSUMER: 5 };
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';

function attribute(span: ExportedSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value && Object.values(value)[0];
}

async function jobTraceParent(t: TestApp, globalId: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    return (await client.query<{ trace_parent: string | null }>('SELECT trace_parent FROM jobs WHERE id = $1', [jobUuid(globalId)])).rows[0]!.trace_parent;
  } finally {
    await client.end();
  }
}

const CREATE_V4 = `mutation CreateTraced { createFaceswapV4Job(input: { sourceImage: "https://example.com/a.jpg", targetImage: "https://example.com/b.jpg" }) { ... on FaceswapV4Job { id } } }`;
const CREATE_V2 = `mutation CreateQueuedTraced { createFaceswapV2Job(input: { sourceImage: "https://example.com/a.jpg", targetImage: "https://example.com/b.jpg" }) { ... on FaceswapV2Job { id } } }`;

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('records no trace context on jobs', async () => {
    const t = await startTestApp();
    try {
      expect(tracingEnabled()).toBe(false);
      const id = (await t.gql(CREATE_V4)).data.createFaceswapV4Job.id;
      expect(await jobTraceParent(t, id)).toBeNull();
      await waitForFinal(t, id);
    } finally {
      await t.close();
    }
  });
});

describe('tracing on', () => {
  let receiver: Server;
  const spans: ExportedSpan[] = [];
  const contentTypes = new Set<string>();
  let t: TestApp;
  let worker: SpawnedProcess;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        contentTypes.add(`${req.url} ${req.headers['content-type']}`);
        const doc = JSON.parse(body);
        for (const rs of doc.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a: any) => a.key === 'service.name')?.value?.stringValue;
          for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans.map((span: ExportedSpan) => ({ ...span, service })));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    t = await startTestApp({ worker: false, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    worker = await spawnWorker(t, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
  });

  afterAll(async () => {
    if (worker) await stopProcess(worker);
    await t?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it('exports a span per operation, job step and upstream call, the worker\'s under the mutation\'s trace', async () => {
    expect(tracingEnabled()).toBe(true);
    // The client sends its own trace context: the mutation's span continues it.
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', authorization: `Bearer ${t.key}`,
        traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`,
      },
      body: JSON.stringify({ query: CREATE_V4 }),
    });
    const v4 = ((await res.json()) as any).data.createFaceswapV4Job.id as string;
    const v2 = (await t.gql(CREATE_V2)).data.createFaceswapV2Job.id as string;
    await waitForFinal(t, v4);
    await waitForFinal(t, v2);
    expect(await jobTraceParent(t, v4)).toMatch(new RegExp(`^00-${CLIENT_TRACE_ID}-[0-9a-f]{16}-01$`));

    const v4Id = jobUuid(v4);
    const v2Id = jobUuid(v2);
    const jobSpans = (id: string) => spans.filter((s) => attribute(s, 'swapyard.job.id') === id);
    // Exported in batches: wait for the last step's and its upstream call's.
    await waitUntil(
      () => jobSpans(v4Id).some((s) => s.name.startsWith('upstream')) && jobSpans(v2Id).filter((s) => s.name === 'job poll').length >= 1
        && spans.some((s) => s.name === 'mutation CreateQueuedTraced'),
      () => `spans exported: ${JSON.stringify(spans.map((s) => s.name))}`,
    );
    expect([...contentTypes]).toEqual(['/v1/traces application/json']);

    // The mutation: a server span named after the operation, child of the client's span.
    const mutation = spans.find((s) => s.name === 'mutation CreateTraced')!;
    expect(mutation).toMatchObject({ traceId: CLIENT_TRACE_ID, parentSpanId: CLIENT_SPAN_ID, kind: SPAN_KIND.SERVER, service: 'swapyard-api' });
    expect(attribute(mutation, 'graphql.operation.name')).toBe('CreateTraced');
    expect(await jobTraceParent(t, v4)).toBe(`00-${CLIENT_TRACE_ID}-${mutation.spanId}-01`);

    // The worker's step: a child of the mutation's span, in its trace; the upstream call a child of the step.
    const step = jobSpans(v4Id).find((s) => s.name === 'job submit')!;
    expect(step).toMatchObject({ traceId: CLIENT_TRACE_ID, parentSpanId: mutation.spanId, kind: SPAN_KIND.CONSUMER, service: 'swapyard-worker' });
    const call = jobSpans(v4Id).find((s) => s.name === 'upstream POST /v1/faceswap-v4')!;
    expect(call).toMatchObject({ traceId: CLIENT_TRACE_ID, parentSpanId: step.spanId, kind: SPAN_KIND.CLIENT });
    expect(attribute(call, 'http.response.status_code')).toBe(200);

    // The queue job: its own trace (no client context), every step and poll under its mutation.
    const queued = spans.find((s) => s.name === 'mutation CreateQueuedTraced')!;
    expect(queued.traceId).not.toBe(CLIENT_TRACE_ID);
    const steps = jobSpans(v2Id).filter((s) => s.name.startsWith('job '));
    expect(steps.map((s) => s.name)).toEqual(expect.arrayContaining(['job submit', 'job poll']));
    for (const s of steps) expect(s).toMatchObject({ traceId: queued.traceId, parentSpanId: queued.spanId });
    const polls = jobSpans(v2Id).filter((s) => s.name === 'upstream GET /v2/requests/:id/status');
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const p of polls) expect(steps.map((s) => s.spanId)).toContain(p.parentSpanId);
  });
});
