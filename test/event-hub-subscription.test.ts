// A subscription of the event hub on its own: a key's events commit in id order,
// so whatever hands it an event twice (a notification racing a replay after the
// LISTEN connection came back) must not make a subscriber see it twice.
import { describe, expect, it } from 'vitest';
import { Subscription, type EventHub, type HubItem } from '../src/services/event-hub.js';
import type { EventWithJob } from '../src/services/job-rows.js';

const event = (id: number) => ({ id: BigInt(id), jobId: 'j', status: 'QUEUED', createdAt: new Date() }) as unknown as EventWithJob;
const hub = { unsubscribe() {} } as unknown as EventHub;

/** The ids a subscription gives up to and including `last` (pushed by the test as the final event). */
async function until(sub: Subscription, last: number): Promise<bigint[]> {
  const got: bigint[] = [];
  for (;;) {
    const next = await sub.next();
    if (next.done) return got;
    const id = (next.value as HubItem as EventWithJob).id;
    got.push(id);
    if (id === BigInt(last)) return got;
  }
}

describe('event hub subscription', () => {
  it('gives each event once, in order, when one is handed again', async () => {
    const sub = new Subscription({ apiKeyId: 'k' }, hub);
    for (const id of [1, 2, 2, 1, 3]) sub.push(event(id));
    expect(await until(sub, 3)).toEqual([1n, 2n, 3n]);
    // Also when the subscriber is already waiting for the next one.
    const waiting = until(sub, 5);
    for (const id of [3, 4, 4, 5]) sub.push(event(id));
    expect(await waiting).toEqual([4n, 5n]);
    await sub.return();
  });
});
