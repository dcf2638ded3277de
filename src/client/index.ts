// The typed Swapyard client for apps and the dashboard: one object over the
// GraphQL API, HTTP for queries and mutations, graphql-ws for live updates.
// Every operation is typed from schema.graphql (generated/graphql.ts); the API's
// typed errors come back as values ({ ok: false, error }), never as throws.
// It runs in browsers and in Node (pass `webSocketImpl: WebSocket` from 'ws' on
// Node 20, which has no global WebSocket) and imports nothing from the server.
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import {
  CancelJobDocument, CreateBodySwapJobDocument, DeleteJobDocument, CreateFaceswapComicJobDocument, CreateFaceswapV2JobDocument,
  CreateFaceswapV3MultiJobDocument, CreateFaceswapV4JobDocument, JobDocument, JobsDocument, JobsUpdatedDocument,
  JobUpdatedDocument, RerunJobDocument, SpendDocument, ViewerDocument,
  type CreateBodySwapJobInput, type CreateErrorsFragment, type CreateFaceswapComicJobInput, type CreateFaceswapV2JobInput,
  type CreateFaceswapV3MultiJobInput, type CreateFaceswapV4JobInput, type JobDetailFragment, type JobEventFilter,
  type JobFilter, type JobModel, type JobOrder, type JobsQuery, type JobStatus, type JobSummaryFragment, type Provider,
  type RerunOverrides, type SpendQuery, type TypedDocumentString, type ViewerQuery,
} from './generated/graphql.js';

export * from './generated/graphql.js';

/** The create input of each model, keyed by its JobModel value. */
export interface ModelInputs {
  FACESWAP_V4: CreateFaceswapV4JobInput;
  FACESWAP_V3_MULTI: CreateFaceswapV3MultiJobInput;
  FACESWAP_V2: CreateFaceswapV2JobInput;
  FACESWAP_COMIC: CreateFaceswapComicJobInput;
  BODY_SWAP: CreateBodySwapJobInput;
}

const CREATE_DOCUMENTS: { [M in keyof ModelInputs]: TypedDocumentString<{ result: CreateResult }, { input: ModelInputs[M] }> } = {
  FACESWAP_V4: CreateFaceswapV4JobDocument as never,
  FACESWAP_V3_MULTI: CreateFaceswapV3MultiJobDocument as never,
  FACESWAP_V2: CreateFaceswapV2JobDocument as never,
  FACESWAP_COMIC: CreateFaceswapComicJobDocument as never,
  BODY_SWAP: CreateBodySwapJobDocument as never,
};

/** A UserError of the API (InvalidInputError, BudgetExceededError, NotFoundError, …). */
export type ApiError = Extract<CreateErrorsFragment, { __typename: string }>;

/** The request itself failed: no or a bad key (401), over the rate (429), the service down (503), the network. */
export interface RequestError {
  __typename: 'RequestError';
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** The API's error code (UNAUTHENTICATED, RATE_LIMITED, …) or NETWORK. */
  code: string;
  message: string;
}

/** The job ran and ended FAILED or CANCELED. */
export interface JobEndedError {
  __typename: 'JobEndedError';
  status: 'FAILED' | 'CANCELED';
  message: string;
  job: JobDetailFragment;
}

export type ClientError = ApiError | RequestError | JobEndedError;
export type NotFoundError = Extract<ApiError, { __typename: 'NotFoundError' }>;
export type Result<T, E = ClientError> = { ok: true; value: T } | { ok: false; error: E };

type CreateResult = JobSummaryFragment | CreateErrorsFragment;
type Job = JobSummaryFragment;
export type JobEvent = { cursor: string; status: JobStatus; createdAt: string; detail: unknown; job: Job };

export interface ClientOptions {
  /** The API's base URL (http://host:4000) or its /graphql endpoint. */
  url: string;
  apiKey: string;
  /** A WebSocket class; defaults to the global one (browsers, Node 22+). */
  webSocketImpl?: unknown;
  fetch?: typeof fetch;
}

export interface RunOptions {
  /** Called with every status change of the job, the replayed ones included. */
  onEvent?: (event: JobEvent) => void;
  signal?: AbortSignal;
}

export interface SubscribeOptions {
  /** One job's events (jobUpdated), or else all of the key's jobs (jobsUpdated) with `filter`. */
  jobId?: string;
  filter?: JobEventFilter;
  /** The cursor of the last event seen: every later one is sent first. */
  since?: string | null;
  onEvent: (event: JobEvent) => void;
  onError?: (error: RequestError) => void;
}

const FINAL: ReadonlySet<JobStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELED']);

export function isFinal(status: JobStatus): boolean {
  return FINAL.has(status);
}

export function graphqlEndpoint(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/graphql') ? trimmed : `${trimmed}/graphql`;
}

function isApiError(value: { __typename: string }): value is ApiError {
  return value.__typename.endsWith('Error');
}

export type SwapyardClient = ReturnType<typeof createClient>;

export function createClient(options: ClientOptions) {
  const endpoint = graphqlEndpoint(options.url);
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const authorization = `Bearer ${options.apiKey}`;
  let ws: WsClient | null = null;

  function socket(): WsClient {
    if (ws) return ws;
    const impl = options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket;
    if (!impl) throw new Error('No WebSocket implementation: pass webSocketImpl (e.g. WebSocket from "ws") on Node 20.');
    ws = createWsClient({
      url: endpoint.replace(/^http/, 'ws'),
      webSocketImpl: impl,
      connectionParams: { authorization },
      lazy: true,
      // Reconnects after a dropped connection; subscriptions resume from their last cursor (see subscribe).
      retryAttempts: Infinity,
      shouldRetry: () => true,
    });
    return ws;
  }

  /** One operation over HTTP; GraphQL and HTTP errors become a RequestError value. */
  async function request<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<Result<R, RequestError>> {
    let res: Response;
    try {
      res = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: document.toString(), variables }),
      });
    } catch (err) {
      return { ok: false, error: { __typename: 'RequestError', status: 0, code: 'NETWORK', message: (err as Error).message } };
    }
    let body: { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      return { ok: false, error: { __typename: 'RequestError', status: res.status, code: 'BAD_RESPONSE', message: `HTTP ${res.status} without a JSON body` } };
    }
    const first = body.errors?.[0];
    if (first || !body.data) {
      return {
        ok: false,
        error: { __typename: 'RequestError', status: res.status, code: first?.extensions?.code ?? 'UNKNOWN', message: first?.message ?? `HTTP ${res.status}` },
      };
    }
    return { ok: true, value: body.data };
  }

  /** A union answer (job or UserError) as a Result. */
  function fromUnion<T extends { __typename: string }>(r: Result<{ result: T }, RequestError>): Result<Exclude<T, ApiError>> {
    if (!r.ok) return r;
    const value = r.value.result;
    if (isApiError(value)) return { ok: false, error: value as ApiError };
    return { ok: true, value: value as Exclude<T, ApiError> };
  }

  function subscribe(opts: SubscribeOptions): () => void {
    // graphql-ws sends this same payload object again when it reconnects, so keeping
    // `since` at the last cursor seen makes a reconnect resume where it stopped.
    const variables: Record<string, unknown> = opts.jobId ? { id: opts.jobId, since: opts.since ?? null } : { filter: opts.filter ?? null, since: opts.since ?? null };
    const query = (opts.jobId ? JobUpdatedDocument : JobsUpdatedDocument).toString();
    const seen = new Set<string>();
    return socket().subscribe<Record<string, JobEvent>>(
      { query, variables },
      {
        next: (message) => {
          const event = message.data ? Object.values(message.data)[0] : undefined;
          if (message.errors?.length) {
            opts.onError?.({ __typename: 'RequestError', status: 0, code: 'SUBSCRIPTION', message: message.errors[0]!.message });
          }
          if (!event || seen.has(event.cursor)) return;
          seen.add(event.cursor);
          variables.since = event.cursor;
          opts.onEvent(event);
        },
        error: (err) => {
          const message = err instanceof Error ? err.message : Array.isArray(err) ? String((err[0] as Error)?.message) : 'connection closed';
          const code = (err as { code?: number })?.code;
          opts.onError?.({ __typename: 'RequestError', status: 0, code: code ? `CLOSE_${code}` : 'SUBSCRIPTION', message: (err as { reason?: string })?.reason || message });
        },
        complete: () => {},
      },
    );
  }

  /** Resolves with the job once it reaches a final status, watching its events (replayed first, so none is missed). */
  function waitForJob(id: string, opts: RunOptions = {}): Promise<Result<JobDetailFragment>> {
    return new Promise((resolve) => {
      let stop = () => {};
      const finish = (r: Result<JobDetailFragment>) => {
        stop();
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () => finish({ ok: false, error: { __typename: 'RequestError', status: 0, code: 'ABORTED', message: 'aborted' } });
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort);
      stop = subscribe({
        jobId: id,
        onEvent: (event) => {
          opts.onEvent?.(event);
          if (!isFinal(event.status)) return;
          void job(id).then((r) => {
            if (!r.ok) return finish(r as Result<never>);
            const j = r.value;
            if (j.status === 'COMPLETED') return finish({ ok: true, value: j });
            finish({
              ok: false,
              error: { __typename: 'JobEndedError', status: j.status as 'FAILED' | 'CANCELED', message: j.failure?.message ?? `The job ended ${j.status}.`, job: j },
            });
          });
        },
        onError: (error) => {
          // Retried by graphql-ws; only a refusal of the key ends the wait.
          if (error.code === 'CLOSE_4403' || error.code === 'CLOSE_4401') finish({ ok: false, error });
        },
      });
    });
  }

  /** One of the key's jobs; a NotFoundError value for an unknown id or another key's job. */
  async function job(id: string): Promise<Result<JobDetailFragment, RequestError | NotFoundError>> {
    const r = await request(JobDocument, { id });
    if (r.ok && r.value.job) return { ok: true, value: r.value.job };
    if (r.ok || r.error.code === 'NOT_FOUND') return { ok: false, error: { __typename: 'NotFoundError', id, message: r.ok ? 'No such job.' : r.error.message } };
    return r;
  }

  return {
    endpoint,
    request,
    subscribe,
    job,
    waitForJob,

    /** Creates a job; the job (QUEUED) or the API's error. */
    async create<M extends keyof ModelInputs>(model: M, input: ModelInputs[M]): Promise<Result<Job>> {
      return fromUnion(await request(CREATE_DOCUMENTS[model], { input } as never)) as Result<Job>;
    },

    /** Creates a job and resolves when it ends: the finished job, or why there is none. */
    async run<M extends keyof ModelInputs>(model: M, input: ModelInputs[M], opts: RunOptions = {}): Promise<Result<JobDetailFragment>> {
      const created = await this.create(model, input);
      if (!created.ok) return created;
      return waitForJob(created.value.id, opts);
    },

    /** One page of the key's jobs (Relay connection), newest first by default. */
    async jobs(args: { first?: number; after?: string; last?: number; before?: string; filter?: JobFilter; orderBy?: JobOrder } = {}): Promise<Result<JobsQuery['jobs'], RequestError>> {
      const r = await request(JobsDocument, { orderBy: 'CREATED_AT_DESC', ...args });
      return r.ok ? { ok: true, value: r.value.jobs } : r;
    },

    /** Reruns a job with its stored parameters and seed, changing only `overrides`. */
    async rerun(id: string, opts: { overrides?: RerunOverrides; provider?: Provider; idempotencyKey?: string } = {}): Promise<Result<Job>> {
      return fromUnion(await request(RerunJobDocument, { id, ...opts })) as Result<Job>;
    },

    async cancel(id: string): Promise<Result<Job>> {
      const r = fromUnion(await request(CancelJobDocument, { id }));
      return r.ok ? { ok: true, value: (r.value as { job: Job }).job } : r;
    },

    /** Deletes a finished job: its images are erased, its tombstone (deletedAt set) is the answer. */
    async deleteJob(id: string): Promise<Result<Job>> {
      const r = fromUnion(await request(DeleteJobDocument, { id }));
      return r.ok ? { ok: true, value: (r.value as { job: Job }).job } : r;
    },

    /** Spend in [from, to) per day and model, per final status, and the key's usage and budgets. */
    async spend(args: { from: string | Date; to: string | Date; apiKey?: string }): Promise<Result<SpendQuery, RequestError>> {
      const iso = (d: string | Date) => (typeof d === 'string' ? d : d.toISOString());
      return request(SpendDocument, { from: iso(args.from), to: iso(args.to), apiKey: args.apiKey ?? null });
    },

    async viewer(): Promise<Result<ViewerQuery['viewer'], RequestError>> {
      const r = await request(ViewerDocument, {});
      return r.ok ? { ok: true, value: r.value.viewer } : r;
    },

    /** Closes the WebSocket, if one was opened. */
    async close(): Promise<void> {
      await ws?.dispose();
      ws = null;
    },
  };
}

export type { JobModel };
