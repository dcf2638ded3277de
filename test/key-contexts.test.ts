// The WebSocket connections of a key share one resolver context, kept while the
// key has an open connection, including when a connection closes while its
// key is still being checked.
import { describe, expect, it } from 'vitest';
import { KeyContexts, type ConnectionState } from '../src/server/key-contexts.js';

const key = (id: string) => ({ id });
const contextFor = (k: { id: string }) => ({ for: k.id });

describe('KeyContexts', () => {
  it('connections of one key share one context; it is dropped with the last connection', async () => {
    const contexts = new KeyContexts<{ for: string }>();
    const a: ConnectionState<{ for: string }> = {};
    const b: ConnectionState<{ for: string }> = {};
    const c: ConnectionState<{ for: string }> = {};
    expect(await contexts.connect(a, async () => key('k1'), contextFor)).toEqual({ connected: true });
    expect(await contexts.connect(b, async () => key('k1'), contextFor)).toEqual({ connected: true });
    expect(await contexts.connect(c, async () => key('k2'), contextFor)).toEqual({ connected: true });
    expect(a.shared!.context).toBe(b.shared!.context);
    expect(a.shared!.context).not.toBe(c.shared!.context);
    expect(contexts.size).toBe(2);
    contexts.close(a);
    expect(contexts.size).toBe(2);
    contexts.close(b);
    contexts.close(c);
    expect(contexts.size).toBe(0);
    contexts.close(c); // a second close changes nothing
    expect(contexts.size).toBe(0);
  });

  it('a refused key gets nothing', async () => {
    const contexts = new KeyContexts<{ for: string }>();
    const state: ConnectionState<{ for: string }> = {};
    expect(await contexts.connect(state, async () => null, contextFor)).toEqual({ connected: false });
    expect(state.shared).toBeUndefined();
    expect(contexts.size).toBe(0);
  });

  it('a connection that closes while its key is being checked is not counted, so the entry still goes with the last connection', async () => {
    const contexts = new KeyContexts<{ for: string }>();
    let release!: (k: { id: string }) => void;
    const slow: ConnectionState<{ for: string }> = {};
    const pending = contexts.connect(slow, () => new Promise<{ id: string }>((r) => (release = r)), contextFor);
    contexts.close(slow); // the socket went away during the lookup
    release(key('k1'));
    expect(await pending).toEqual({ connected: false });
    expect(contexts.size).toBe(0);
    const other: ConnectionState<{ for: string }> = {};
    await contexts.connect(other, async () => key('k1'), contextFor);
    contexts.close(other);
    expect(contexts.size).toBe(0);
  });

  it("knows each key's connections, and a refusal (given the key's open connections) attaches nothing", async () => {
    const contexts = new KeyContexts<{ for: string }>();
    const atMostTwo = (_k: { id: string }, open: number) => (open >= 2 ? { reason: `open: ${open}` } : null);
    const a: ConnectionState<{ for: string }> = {};
    const b: ConnectionState<{ for: string }> = {};
    const c: ConnectionState<{ for: string }> = {};
    expect(await contexts.connect(a, async () => key('k1'), contextFor, atMostTwo)).toEqual({ connected: true });
    expect(await contexts.connect(b, async () => key('k1'), contextFor, atMostTwo)).toEqual({ connected: true });
    expect(await contexts.connect(c, async () => key('k1'), contextFor, atMostTwo)).toEqual({ connected: false, refusal: { reason: 'open: 2' } });
    expect(c.shared).toBeUndefined();
    expect(contexts.connectionsOf('k1')).toEqual([a, b]);
    contexts.close(a);
    expect(contexts.connectionsOf('k1')).toEqual([b]);
    expect(await contexts.connect(c, async () => key('k1'), contextFor, atMostTwo)).toEqual({ connected: true });
    expect([...contexts.keys()].map((k) => k.apiKeyId)).toEqual(['k1']);
    expect(contexts.connectionsOf('k2')).toEqual([]);
  });
});
