// OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Off,
// the SDK is never imported and every helper here returns at its first line;
// only @opentelemetry/api (a few kB, no state) is loaded. On, a
// NodeTracerProvider exports spans over OTLP/HTTP in batches, and its
// AsyncLocalStorage context manager carries the active span through awaits,
// so spans started inside `withSpan` (an upstream call inside a job step)
// become its children.
//
// A job's trace crosses processes through its row: the create mutation stores
// the W3C traceparent of its span (`currentTraceParent`, column
// jobs.trace_parent) and the worker starts each step's span from it
// (`withSpan(…, { parent })`), so the worker's spans belong to the
// mutation's trace.
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

export { SpanKind, type Span } from '@opentelemetry/api';

const TRACER = 'swapyard';

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT; null: off. Spans go to `<endpoint>/v1/traces` unless `tracesUrl` says otherwise. */
  endpoint: string | null;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the full URL, when set. */
  tracesUrl?: string | null;
  serviceName: string;
  /** For tests: export here (e.g. the SDK's InMemorySpanExporter) instead of OTLP. */
  exporter?: unknown;
}

export interface Tracing {
  /** Exports what is buffered; resolves when sent. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const OFF: Tracing = { flush: async () => {}, shutdown: async () => {} };

let enabled = false;
let users = 0;
let provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> } | null = null;

export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Starts tracing for this process when an endpoint (or an exporter) is given.
 * One provider per process; the API and an in-process worker share it, and
 * the last `shutdown` stops it.
 */
export async function startTracing(opts: TracingOptions): Promise<Tracing> {
  if (!opts.endpoint && !opts.tracesUrl && !opts.exporter) return OFF;
  if (!provider) {
    const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
    const url = opts.tracesUrl || `${opts.endpoint!.replace(/\/+$/, '')}/v1/traces`;
    const exporter = (opts.exporter ?? new OTLPTraceExporter({ url })) as ConstructorParameters<typeof BatchSpanProcessor>[0];
    const p = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME || opts.serviceName }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
    });
    p.register();
    provider = p;
    enabled = true;
  }
  users += 1;
  let stopped = false;
  return {
    flush: async () => {
      await provider?.forceFlush();
    },
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      users -= 1;
      if (users > 0 || !provider) return;
      const p = provider;
      provider = null;
      enabled = false;
      await p.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** The context a W3C traceparent names (null or malformed: the active context). */
function contextFrom(traceparent: string | null | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}

export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKind;
  /** A stored W3C traceparent to continue (a job's trace, in the worker). */
  parent?: string | null;
  /** Carrier of incoming W3C headers (an HTTP request's headers). */
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * Runs `fn` inside a new span, active for everything `fn` awaits, ended when
 * it settles (status ERROR if it throws). With tracing off: `fn(undefined)`.
 */
export function withSpan<T>(name: string, opts: SpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!enabled) return fn(undefined);
  const parent = opts.headers ? propagation.extract(context.active(), opts.headers) : contextFrom(opts.parent);
  const span = trace.getTracer(TRACER).startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed with a short, secret-free reason (a status code, a failure code). */
export function spanFailed(span: Span | undefined, reason: string): void {
  span?.setStatus({ code: SpanStatusCode.ERROR, message: reason });
}

/** The active span's W3C traceparent, for a job row; null when tracing is off or no span is active. */
export function currentTraceParent(): string | null {
  if (!enabled) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** The span active in this async context, when tracing is on. */
export function activeSpan(): Span | undefined {
  return enabled ? trace.getActiveSpan() : undefined;
}
