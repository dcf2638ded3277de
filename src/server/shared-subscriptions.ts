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

export async function subscribeSharingResults(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source as ExecutionResult;
  const key = operationKey(args);
  const iterator = source[Symbol.asyncIterator]();
  const run = (event: unknown): Result => {
    if (!event || typeof event !== 'object') return execute({ ...args, rootValue: event });
    let results = byEvent.get(event);
    if (!results) byEvent.set(event, (results = new Map()));
    let result = results.get(key);
    if (!result) results.set(key, (result = execute({ ...args, rootValue: event })));
    return result;
  };
  // A plain iterator object, not an async generator: return() must reach the
  // source at once even while a next() is pending (an idle subscription being closed).
  const mapped = {
    async next(): Promise<IteratorResult<ExecutionResult>> {
      const r = await iterator.next();
      if (r.done) return { value: undefined, done: true };
      try {
        return { value: await run(r.value), done: false };
      } catch (err) {
        await iterator.return?.();
        throw err;
      }
    },
    async return(): Promise<IteratorResult<ExecutionResult>> {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(err: unknown): Promise<IteratorResult<ExecutionResult>> {
      await iterator.return?.();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return mapped as unknown as AsyncGenerator<ExecutionResult>;
}
