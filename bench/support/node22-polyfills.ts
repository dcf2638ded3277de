// PostGraphile v5 declares node >= 22 and calls Promise.withResolvers (Node 22);
// this machine runs Node 20, so the peer process gets the one-line polyfill.
// Imported first by postgraphile-server.ts; not used by Swapyard itself.
const P = Promise as unknown as { withResolvers?: unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
export {};
