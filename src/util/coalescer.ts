// Group commit in the application: calls that arrive while earlier ones are
// being written wait and then go together in one batch. A call that finds
// nothing in flight goes at once, so a quiet service adds no delay; under load
// the batches grow by themselves to what arrives during one round trip.

export class Coalescer<I, O> {
  private queue: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private running = 0;
  /** What it has run so far, for tests and benches. */
  readonly stats = { batches: 0, items: 0, largest: 0 };

  constructor(
    /** Runs one batch; returns each item's outcome, in the items' order. */
    private readonly run: (items: I[]) => Promise<Array<PromiseSettledResult<O>>>,
    private readonly opts: { maxBatch: number; maxInFlight: number },
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.running += 1;
      this.stats.batches += 1;
      this.stats.items += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      this.run(batch.map((b) => b.item))
        .then(
          (outcomes) => batch.forEach((b, i) => {
            const o = outcomes[i];
            if (o?.status === 'fulfilled') b.resolve(o.value);
            else b.reject(o ? o.reason : new Error('batch returned no outcome for an item'));
          }),
          (err) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.running -= 1;
          this.pump();
        });
    }
  }
}

/**
 * One coalescer per owner (a pool, a database), made on its first use and
 * dropped with the owner: `run` gets the owner and the batch.
 */
export function coalescerPer<K extends object, I, O>(
  run: (owner: K, items: I[]) => Promise<Array<PromiseSettledResult<O>>>,
  opts: { maxBatch: number; maxInFlight: number },
): (owner: K) => Coalescer<I, O> {
  const made = new WeakMap<K, Coalescer<I, O>>();
  return (owner) => {
    let coalescer = made.get(owner);
    if (!coalescer) {
      coalescer = new Coalescer((items) => run(owner, items), opts);
      made.set(owner, coalescer);
    }
    return coalescer;
  };
}
