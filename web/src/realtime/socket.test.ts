import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';

// A WebSocket double: records URLs and sent frames; the test plays the server.
class FakeSocket {
  static all: FakeSocket[] = [];
  static OPEN = 1;
  readyState = 0;
  sent: string[] = [];
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onopen: (() => void) | null = null;
  url: string;
  constructor(url: string | URL) {
    this.url = String(url);
    FakeSocket.all.push(this);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(f: unknown) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
}

async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

describe('realtime socket', () => {
  beforeEach(() => {
    vi.resetModules();
    FakeSocket.all = [];
    sessionStorage.clear();
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (String(url).includes('/ws/ticket')) return new Response(JSON.stringify({ ticket: `t-${FakeSocket.all.length}`, expires_in: 60 }), { status: 200 });
        return new Response('{}', { status: 404 });
      }),
    );
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  async function setup() {
    const sess = await import('../session/session');
    vi.spyOn(sess.session, 'accessToken').mockResolvedValue('access-1');
    vi.spyOn(sess.session, 'user').mockReturnValue({ id: 'u1' } as never);
    const expire = vi.spyOn(sess.session, 'expire').mockImplementation(() => {});
    const mod = await import('./socket');
    return { ...mod, expire };
  }

  test('opens with a ticket, resumes from the last sequence, and skips what it already saw', async () => {
    const { realtime, on, connection } = await setup();
    const seen: number[] = [];
    on('message.created', (e) => seen.push(e.seq ?? -1));
    realtime.start();
    await flush();
    const s1 = FakeSocket.all[0]!;
    expect(s1.url).toContain('ticket=t-0');
    expect(s1.url).not.toContain('since=');
    expect(s1.url).not.toContain('access');
    s1.open();
    s1.frame({ type: 'hello', user_id: 'u1', last_seq: 10 });
    expect(connection.get()).toBe('online');
    s1.frame({ seq: 11, type: 'message.created', data: {} });
    s1.frame({ seq: 11, type: 'message.created', data: {} });
    s1.frame({ seq: 12, type: 'message.created', data: {} });
    expect(seen).toEqual([11, 12]);

    // The connection drops: the next socket asks for everything after 12.
    vi.useFakeTimers();
    s1.close(1006);
    expect(connection.get()).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(20_000);
    vi.useRealTimers();
    await flush();
    const s2 = FakeSocket.all[1]!;
    expect(s2.url).toContain('since=12');
    s2.open();
    const opened: unknown[] = [];
    on('open', (e) => opened.push(e.data));
    s2.frame({ type: 'hello', user_id: 'u1', last_seq: 14 });
    expect(opened).toEqual([{ resumed: true }]);
    s2.frame({ seq: 13, type: 'message.created', data: {} });
    expect(seen).toEqual([11, 12, 13]);
    realtime.stop();
  });

  test('a resync frame tells subscribers to reload, and queued frames go out on connect', async () => {
    const { realtime, on } = await setup();
    let resyncs = 0;
    on('resync', () => resyncs++);
    realtime.send({ type: 'read', conversation_id: 'c1' });
    realtime.send({ type: 'typing', conversation_id: 'c1', typing: true });
    realtime.start();
    await flush();
    const s = FakeSocket.all[0]!;
    s.open();
    s.frame({ type: 'hello', user_id: 'u1', last_seq: 3 });
    expect(s.sent.map((x) => JSON.parse(x).type)).toEqual(['read']); // typing is not queued
    s.frame({ type: 'resync', last_seq: 50 });
    expect(resyncs).toBe(1);
    expect(realtime.lastSeq()).toBe(50);
    realtime.stop();
  });

  test('a refreshed access token renews the open socket', async () => {
    const { realtime } = await setup();
    const sess = await import('../session/session');
    realtime.start();
    await flush();
    const s = FakeSocket.all[0]!;
    s.open();
    s.frame({ type: 'hello', user_id: 'u1', last_seq: 0 });
    sess.session.adopt({ access_token: 'access-2', expires_in: 900, user: { id: 'u1' } as never });
    expect(s.sent.map((x) => JSON.parse(x))).toContainEqual({ type: 'auth', access_token: 'access-2' });
    realtime.stop();
  });

  test('a close for the account (4001–4003) ends the session instead of reconnecting', async () => {
    const { realtime, expire } = await setup();
    realtime.start();
    await flush();
    const s = FakeSocket.all[0]!;
    s.open();
    s.frame({ type: 'hello', user_id: 'u1', last_seq: 0 });
    s.onclose?.({ code: 4001, reason: 'account_inactive' });
    await flush();
    expect(expire).toHaveBeenCalledWith('account_inactive');
    expect(FakeSocket.all).toHaveLength(1);
  });
});
