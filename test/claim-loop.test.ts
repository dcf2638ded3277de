// Claimers of one channel in several processes take turns answering its
// notifications (src/services/claim-loop.ts): the leader answers, and wakes
// the others on the overflow channel only when it cannot take the work; when
// the leader goes, another leads. Real LISTEN/NOTIFY and advisory locks; the
// work itself is an in-memory queue, so every claim can be counted.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimLoop } from '../src/services/claim-loop.js';
import { createTestDatabase } from './support/db.js';
import { pause, waitUntil } from './support/wait.js';

let url: string;
let notifier: pg.Client;
beforeAll(async () => {
  url = await createTestDatabase({ empty: true });
  notifier = new pg.Client({ connectionString: url });
  await notifier.connect();
});
afterAll(async () => {
  await notifier?.end();
});

interface Claimer {
  name: string;
  loop: ClaimLoop<string>;
  /** What each of its claims returned, in order. */
  claims: string[][];
  /** Items it is handling; resolve one to free its slot. */
  holding: Map<string, () => void>;
}

function claimers(channel: string, queue: string[], opts: { idlePollMs: number; overflow?: boolean; concurrency?: number }): Claimer[] {
  return ['a', 'b'].map((name) => {
    const c: Claimer = { name, claims: [], holding: new Map(), loop: null! };
    c.loop = new ClaimLoop<string>({
      databaseUrl: url,
      channel,
      overflowChannel: opts.overflow === false ? undefined : `${channel}_overflow`,
      concurrency: opts.concurrency ?? 1,
      idlePollMs: opts.idlePollMs,
      claim: async (limit) => {
        const taken = queue.splice(0, limit);
        c.claims.push(taken);
        return taken;
      },
      keyOf: (item) => item,
      handle: (item, signal) => new Promise<void>((resolve) => {
        c.holding.set(item, resolve);
        signal.addEventListener('abort', () => resolve()); // so that stop() ends even after a failed expectation
      }),
      release: async () => {},
      log: () => {},
    });
    return c;
  });
}

const until = (what: string, test: () => boolean) => waitUntil(test, () => `waiting for ${what}`, { everyMs: 10 });

const nonEmpty = (c: Claimer) => c.claims.filter((x) => x.length > 0).flat();

describe('claim loops with an overflow channel', () => {
  it('one answers the notifications; the other wakes only when the leader cannot take all the work', async () => {
    const queue: string[] = [];
    // Idle polls far beyond the test: every wake-up seen here came from a notification.
    const [a, b] = claimers('test_ready_1', queue, { idlePollMs: 60_000, concurrency: 2 });
    await a!.loop.start();
    await b!.loop.start();
    try {
      expect([a!.loop.isLeader(), b!.loop.isLeader()].sort()).toEqual([false, true]);
      const [leader, other] = a!.loop.isLeader() ? [a!, b!] : [b!, a!];
      await until('both loops made their first claim', () => leader.claims.length > 0 && other.claims.length > 0);
      const otherClaims = other.claims.length;

      queue.push('job-1');
      await notifier.query(`NOTIFY test_ready_1`);
      await until('the leader took job-1', () => nonEmpty(leader).includes('job-1'));
      await pause(100); // nothing is to happen: the other is not even woken
      expect(other.claims.length).toBe(otherClaims);

      // Two more for the leader's one free slot: its claim takes all it asked for, so it wakes the other.
      queue.push('job-2', 'job-3');
      await notifier.query(`NOTIFY test_ready_1`);
      await until('the other claimer took job-3', () => nonEmpty(other).includes('job-3'));
      expect(nonEmpty(leader)).toEqual(['job-1', 'job-2']);

      // Both full: a notification still reaches the other claimer through the leader.
      for (const done of other.holding.values()) done();
      await until('the other claimer is idle', () => other.loop.activeKeys().length === 0);
      queue.push('job-4');
      await notifier.query(`NOTIFY test_ready_1`);
      await until('the other claimer took job-4', () => nonEmpty(other).includes('job-4'));
      for (const c of [leader, other]) for (const done of c.holding.values()) done();
    } finally {
      await a!.loop.stop(1_000);
      await b!.loop.stop(1_000);
    }
  });

  it('when the leader stops, the other takes the lead at its next idle poll and answers from then on', async () => {
    const queue: string[] = [];
    const [a, b] = claimers('test_ready_2', queue, { idlePollMs: 100 });
    await a!.loop.start();
    await b!.loop.start();
    const [leader, other] = a!.loop.isLeader() ? [a!, b!] : [b!, a!];
    try {
      expect(other.loop.isLeader()).toBe(false);
      await leader.loop.stop(1_000);
      await until('the other claimer leads', () => other.loop.isLeader());
      queue.push('job-3');
      await notifier.query(`NOTIFY test_ready_2`);
      await until('the new leader took job-3', () => nonEmpty(other).includes('job-3'));
      for (const done of other.holding.values()) done();
    } finally {
      await other.loop.stop(1_000);
    }
  });

  it('without an overflow channel every claimer answers every notification', async () => {
    const queue: string[] = [];
    const [a, b] = claimers('test_ready_3', queue, { idlePollMs: 60_000, overflow: false });
    await a!.loop.start();
    await b!.loop.start();
    try {
      expect([a!.loop.isLeader(), b!.loop.isLeader()]).toEqual([true, true]);
      await until('both loops made their first claim', () => a!.claims.length > 0 && b!.claims.length > 0);
      const before = a!.claims.length + b!.claims.length;
      queue.push('job-4');
      await notifier.query(`NOTIFY test_ready_3`);
      await until('both woke and claimed', () => a!.claims.length + b!.claims.length === before + 2);
      expect([...nonEmpty(a!), ...nonEmpty(b!)]).toEqual(['job-4']);
      for (const c of [a!, b!]) for (const done of c.holding.values()) done();
    } finally {
      await a!.loop.stop(1_000);
      await b!.loop.stop(1_000);
    }
  });
});

describe('an item a claim returns while it is still being handled here', () => {
  it('is not handled twice; its lease is handed back when the running handler ends, and the loop claims anew', async () => {
    // As when this process stalls past its own lease and its next claim finds the lease lapsed.
    const claimsReturn = [['job-x'], ['job-x']];
    const handled: string[] = [];
    const released: string[] = [];
    let claimsAfterRelease = 0;
    let finish = () => {};
    const loop = new ClaimLoop<string>({
      databaseUrl: url,
      channel: 'test_ready_4',
      concurrency: 2,
      idlePollMs: 60_000, // every claim after the first is woken by a NOTIFY or by the hand-back
      claim: async () => {
        if (released.length > 0) claimsAfterRelease++;
        return claimsReturn.shift() ?? [];
      },
      keyOf: (item) => item,
      handle: (item, signal) => new Promise<void>((resolve) => {
        handled.push(item);
        finish = resolve;
        signal.addEventListener('abort', () => resolve());
      }),
      release: async (key) => {
        released.push(key);
      },
      log: () => {},
    });
    await loop.start();
    try {
      await until('the first claim is being handled', () => handled.length === 1);
      await notifier.query(`NOTIFY test_ready_4`);
      await until('the second claim returned the same item', () => claimsReturn.length === 0);
      await pause(50); // nothing is to happen: no second handler, no release while the first runs
      expect([handled, released, loop.activeKeys()]).toEqual([['job-x'], [], ['job-x']]);
      finish();
      await until('its lease was handed back', () => released.length === 1);
      await until('the loop claimed anew', () => claimsAfterRelease > 0);
      expect([handled, released]).toEqual([['job-x'], ['job-x']]);
    } finally {
      await loop.stop(1_000);
    }
  });
});

describe('a notification that arrives while the loop is claiming', () => {
  it('makes it claim again at once: the claim in flight may have missed the work it announced', async () => {
    let claims = 0;
    let notified = 0;
    let gate: (() => void) | null = null;
    const loop = new ClaimLoop<string>({
      databaseUrl: url,
      channel: 'test_ready_5',
      onNotification: () => {
        notified++;
        return false; // not taken aside: the loop is kicked
      },
      concurrency: 1,
      idlePollMs: 60_000, // every claim after the first is woken by a NOTIFY
      claim: async () => {
        claims++;
        // The second claim (the first woken) is held open until the test lets it go.
        if (claims === 2) await new Promise<void>((resolve) => (gate = resolve));
        return [];
      },
      keyOf: (item) => item,
      handle: async () => {},
      release: async () => {},
      log: () => {},
    });
    await loop.start();
    try {
      await until('the first claim', () => claims === 1);
      await notifier.query(`NOTIFY test_ready_5`);
      await until('the second claim is in flight', () => gate !== null);
      await notifier.query(`NOTIFY test_ready_5`);
      await until('the notice delivered while that claim is still open', () => notified === 2);
      expect(claims).toBe(2);
      gate!();
      await until('a third claim, with no idle poll for a minute', () => claims === 3);
    } finally {
      await loop.stop(1_000);
    }
  });
});
