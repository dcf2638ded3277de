// Subscription execution that computes each event's result once per distinct
// operation instead of once per subscriber. The event hub hands the same event
// object to every subscriber of a key, and the subscriptions of one key share
// one context (http-server.ts), so subscribers that sent the same document with
// the same variables would all compute the same result: the first one to get
// there executes it, the others reuse it (keyed on the event object in a
// WeakMap, so nothing outlives the event). graphql-ws still serialises and sends
// the result to each socket. Otherwise this is graphql's own subscribe():
// createSourceEventStream, then execute() per event with the event as rootValue.
import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

type Result = ExecutionResult | Promise<ExecutionResult>;

const byEvent = new WeakMap<object, Map<string, Result>>();
const printed = new WeakMap<DocumentNode, string>();
const contextIds = new WeakMap<object, number>();
let nextContextId = 0;

function operationKey(args: ExecutionArgs): string {
  let doc = printed.get(args.document);
  if (doc === undefined) printed.set(args.document, (doc = print(args.document)));
  let ctx = 'none';
  if (args.contextValue && typeof args.contextValue === 'object') {
    let id = contextIds.get(args.contextValue);
    if (id === undefined) contextIds.set(args.contextValue, (id = nextContextId++));
    ctx = String(id);
  }
  return `${ctx}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${doc}`;
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof (x as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}

/**
 * The per-subscription iterator handed to graphql-ws. A class rather than an object
 * of closures, and next() chains promises rather than being an async function: an
 * idle subscription sits in next() for its whole life, and a suspended async
 * function kept its frame (a generator, its registers and promises) per connection
 * on top of the four closures; this keeps three fields and one pending callback.
 * It is not an async generator either: return() must reach the source at once even
 * while a next() is pending (an idle subscription being closed).
 */
class SharedResults implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly key: string,
  ) {}

  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.source.next().then((r): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
      if (r.done) return { value: undefined, done: true };
      let result: Result;
      try {
        result = this.run(r.value);
      } catch (err) {
        return this.fail(err);
      }
      return Promise.resolve(result).then((value): IteratorResult<ExecutionResult> => ({ value, done: false }), (err) => this.fail(err));
    });
  }

  private run(event: unknown): Result {
    if (!event || typeof event !== 'object') return execute({ ...this.args, rootValue: event });
    let results = byEvent.get(event);
    if (!results) byEvent.set(event, (results = new Map()));
    let result = results.get(this.key);
    if (!result) results.set(this.key, (result = execute({ ...this.args, rootValue: event })));
    return result;
  }

  /** A failed execution ends the source, then rethrows. */
  private async fail(err: unknown): Promise<never> {
    await this.source.return?.();
    throw err;
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    return { value: undefined, done: true };
  }

  async throw(err: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export async function subscribeSharingResults(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source as ExecutionResult;
  return new SharedResults(source[Symbol.asyncIterator](), args, operationKey(args)) as unknown as AsyncGenerator<ExecutionResult>;
}
