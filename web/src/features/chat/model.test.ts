import { describe, expect, it } from 'vitest';
import {
  charCount,
  firstUnread,
  groupReactions,
  locationOf,
  mapUrl,
  mergeMessages,
  newerVersion,
  optimistic,
  statusRank,
  threadRows,
  tickOf,
  withReaction,
  type Msg,
} from './model';

const ME = 'me-1';
let n = 0;
function msg(over: Partial<Msg> = {}): Msg {
  n += 1;
  const at = over.sent_at ?? new Date(Date.UTC(2026, 10, 30, 10, n)).toISOString();
  return {
    id: `m${String(n).padStart(4, '0')}`,
    conversation_id: 'c1',
    direction: 'in',
    kind: 'text',
    body: `hello ${n}`,
    meta: {},
    status: 'sent',
    sent_at: at,
    created_at: at,
    reactions: [],
    ...over,
  } as Msg;
}

describe('mergeMessages', () => {
  it('orders pages and events oldest first, without duplicates', () => {
    const a = msg();
    const b = msg();
    const c = msg();
    const page = mergeMessages([], [c, b]);
    const both = mergeMessages(page, [a, b]);
    expect(both.map((m) => m.id)).toEqual([a.id, b.id, c.id]);
  });

  it('replaces the optimistic bubble with the stored message of the same client id', () => {
    const local = optimistic({ clientId: 'k1', conversationId: 'c1', meId: ME, direction: 'out', body: 'hi' });
    const other = msg();
    let list = mergeMessages([other], [local]);
    expect(list.map((m) => m.id)).toEqual([other.id, 'local:k1']);
    const stored = msg({ client_id: 'k1', direction: 'out', author_user_id: ME, body: 'hi', status: 'pending' });
    list = mergeMessages(list, [stored]);
    expect(list.map((m) => m.id)).toEqual([other.id, stored.id]);
    expect(list[1]?.local).toBeUndefined();
  });

  it('keeps local bubbles below stored ones', () => {
    const local = optimistic({ clientId: 'k2', conversationId: 'c1', meId: ME, direction: 'out', body: 'x', now: new Date(Date.UTC(2020, 0, 1)) });
    const later = msg();
    expect(mergeMessages([local], [later]).map((m) => m.id)).toEqual([later.id, 'local:k2']);
  });

  it('replaces a note placeholder by the id it was given', () => {
    const local = optimistic({ clientId: 'n1', conversationId: 'c1', meId: ME, direction: 'out', body: 'note', note: true });
    const stored = msg({ kind: 'note', author_user_id: ME, direction: 'out' });
    const list = mergeMessages([local], [stored], local.id);
    expect(list.map((m) => m.id)).toEqual([stored.id]);
  });

  it('never moves ticks backwards when a late answer arrives', () => {
    const delivered = msg({ status: 'delivered', direction: 'out' });
    const lateAnswer: Msg = { ...delivered, status: 'pending' };
    const list = mergeMessages([delivered], [lateAnswer]);
    expect(list[0]?.status).toBe('delivered');
    const read = mergeMessages(list, [{ ...delivered, status: 'read' }]);
    expect(read[0]?.status).toBe('read');
  });

  it('takes content changes (edits, deletes, reactions) from the newer version', () => {
    const a = msg({ status: 'read' });
    const edited: Msg = { ...a, status: 'sent', body: 'changed', edited_at: new Date().toISOString() };
    const v = newerVersion(a, edited);
    expect(v.body).toBe('changed');
    expect(v.status).toBe('read');
  });
});

describe('ticks', () => {
  it('ranks statuses pending < failed < sent < delivered < read', () => {
    expect(['read', 'pending', 'delivered', 'sent', 'failed'].sort((x, y) => statusRank(x) - statusRank(y))).toEqual([
      'pending',
      'failed',
      'sent',
      'delivered',
      'read',
    ]);
  });

  it('shows sending, failed, and read from an in-app read position', () => {
    const local = optimistic({ clientId: 'k3', conversationId: 'c1', meId: ME, direction: 'out', body: 'x' });
    expect(tickOf(local)).toBe('sending');
    expect(tickOf({ ...local, local: { state: 'failed' } })).toBe('failed');
    const s = msg({ status: 'sent' });
    expect(tickOf(s)).toBe('sent');
    expect(tickOf(s, Date.parse(s.sent_at))).toBe('read');
    expect(tickOf(s, Date.parse(s.sent_at) - 1)).toBe('sent');
    expect(tickOf(msg({ status: 'failed' }), Date.now() + 1e9)).toBe('failed');
  });
});

describe('threadRows', () => {
  it('puts a day separator before each new day and the unread line before the first unread', () => {
    const d1a = msg({ sent_at: '2026-11-28T10:00:00Z', direction: 'out', author_user_id: ME });
    const d1b = msg({ sent_at: '2026-11-28T10:05:00Z' });
    const d2a = msg({ sent_at: '2026-11-30T09:00:00Z' });
    const d2b = msg({ sent_at: '2026-11-30T09:01:00Z' });
    const rows = threadRows([d1a, d1b, d2a, d2b], d2a.id, 2);
    expect(rows.map((r) => r.type)).toEqual(['day', 'msg', 'msg', 'day', 'unread', 'msg', 'msg']);
    const msgs = rows.filter((r) => r.type === 'msg');
    expect(msgs.map((r) => (r.type === 'msg' ? r.first : null))).toEqual([true, true, true, false]);
  });

  it('finds the first unread message of the other side', () => {
    const a = msg();
    const mine = msg({ author_user_id: ME, direction: 'out' });
    const b = msg();
    const c = msg();
    expect(firstUnread([a, mine, b, c], ME, 2)).toBe(b.id);
    expect(firstUnread([a, mine, b, c], ME, 0)).toBeUndefined();
  });
});

describe('reactions', () => {
  it('groups by emoji and knows which is mine; one reaction per person', () => {
    let m = msg({ reactions: [{ author: 'contact:x', emoji: '👍' }] });
    m = withReaction(m, ME, '👍');
    expect(groupReactions(m, ME)).toEqual([{ emoji: '👍', count: 2, mine: true }]);
    m = withReaction(m, ME, '❤️');
    expect(groupReactions(m, ME)).toEqual([
      { emoji: '👍', count: 1, mine: false },
      { emoji: '❤️', count: 1, mine: true },
    ]);
    m = withReaction(m, ME, '');
    expect(groupReactions(m, ME)).toEqual([{ emoji: '👍', count: 1, mine: false }]);
  });
});

describe('locations and limits', () => {
  it('reads coordinates from meta.location and builds a map link', () => {
    const m = msg({ kind: 'location', meta: { location: { latitude: '40.4168', longitude: -3.7038, name: 'Sol' } } as never });
    const l = locationOf(m);
    expect(l).toMatchObject({ latitude: 40.4168, longitude: -3.7038, name: 'Sol' });
    expect(mapUrl(l!)).toBe('https://www.openstreetmap.org/?mlat=40.416800&mlon=-3.703800#map=17/40.416800/-3.703800');
    expect(locationOf(msg({ kind: 'location', meta: { location: { latitude: 200, longitude: 0 } } as never }))).toBeUndefined();
  });

  it('counts characters as the server does', () => {
    expect(charCount('  hola  ')).toBe(4);
    expect(charCount('👍🏽')).toBe(2);
  });
});
