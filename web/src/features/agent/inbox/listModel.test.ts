import { describe, expect, it } from 'vitest';
import {
  applyConversationUpdated,
  applyMessageCreated,
  applyRead,
  keepMatching,
  matchesFilters,
  mergeConversations,
  NO_FILTERS,
  type ConversationView,
  type MessageDto,
} from './listModel';

const ME = 'agent-1';
function conv(id: string, minute: number, over: Partial<ConversationView> = {}): ConversationView {
  const at = new Date(Date.UTC(2026, 10, 30, 10, minute)).toISOString();
  return {
    id,
    channel: 'whatsapp',
    status: 'open',
    agent_id: ME,
    agent_name: 'Diego',
    is_group: false,
    created_at: at,
    last_message_at: at,
    unread_count: 0,
    related_conversation_ids: [],
    last_message: { id: `last-${id}`, direction: 'in', kind: 'text', preview: 'hi', sent_at: at },
    ...over,
  };
}
function message(over: Partial<MessageDto> = {}): MessageDto {
  const at = new Date(Date.UTC(2026, 10, 30, 11, 0)).toISOString();
  return { id: 'new', conversation_id: 'a', direction: 'in', kind: 'text', body: 'new text', meta: {}, status: 'sent', sent_at: at, created_at: at, reactions: [], ...over };
}

describe('pages', () => {
  it('merges pages newest first without duplicates', () => {
    const p1 = [conv('c', 3), conv('b', 2)];
    const p2 = [conv('b', 2), conv('a', 1)];
    expect(mergeConversations(p1, p2).map((c) => c.id)).toEqual(['c', 'b', 'a']);
  });
});

describe('live events', () => {
  const list = [conv('c', 3), conv('b', 2), conv('a', 1)];

  it('moves a conversation to the top with the new preview and one more unread', () => {
    const o = applyMessageCreated(list, 'a', message(), ME, undefined);
    if (o.kind !== 'updated') throw new Error('expected an update');
    expect(o.list.map((c) => c.id)).toEqual(['a', 'c', 'b']);
    expect(o.list[0]?.unread_count).toBe(1);
    expect(o.list[0]?.last_message?.preview).toBe('new text');
  });

  it('does not count our own messages or the thread being read', () => {
    const own = applyMessageCreated(list, 'a', message({ direction: 'out', author_user_id: ME }), ME, undefined);
    const reading = applyMessageCreated(list, 'a', message(), ME, 'a');
    for (const o of [own, reading]) {
      if (o.kind !== 'updated') throw new Error('expected an update');
      expect(o.list[0]?.unread_count).toBe(0);
    }
  });

  it('uses the server words for media previews', () => {
    const o = applyMessageCreated(list, 'b', message({ kind: 'image', body: null }), ME, undefined);
    if (o.kind !== 'updated') throw new Error('expected an update');
    expect(o.list[0]?.last_message?.preview).toBe('Photo');
  });

  it('asks for an unknown conversation (a new one)', () => {
    expect(applyMessageCreated(list, 'zzz', message(), ME, undefined)).toEqual({ kind: 'fetch', id: 'zzz' });
  });

  it('applies status changes and drops rows reassigned to someone else', () => {
    const o = applyConversationUpdated(list, { conversation: { ...conv('b', 2), status: 'closed' } }, { id: ME, role: 'agent' });
    if (o.kind !== 'updated') throw new Error('expected an update');
    expect(o.list.find((c) => c.id === 'b')?.status).toBe('closed');
    expect(keepMatching(o.list, NO_FILTERS).map((c) => c.id)).toEqual(['c', 'a']);
    expect(keepMatching(o.list, NO_FILTERS, 'b').map((c) => c.id)).toEqual(['c', 'b', 'a']);
    const gone = applyConversationUpdated(list, { conversation_id: 'a', reassigned_to: 'other' }, { id: ME, role: 'agent' });
    expect(gone.kind === 'updated' && gone.list.map((c) => c.id)).toEqual(['c', 'b']);
  });

  it('clears the unread count on our own read of the last message', () => {
    const withUnread = [conv('a', 1, { unread_count: 3 })];
    const o = applyRead(withUnread, { conversation_id: 'a', user_id: ME, up_to: 'last-a' }, ME);
    expect(o.kind === 'updated' && o.list[0]?.unread_count).toBe(0);
    expect(applyRead(withUnread, { conversation_id: 'a', user_id: ME, up_to: 'older' }, ME)).toEqual({ kind: 'fetch', id: 'a' });
    expect(applyRead(withUnread, { conversation_id: 'a', user_id: ME, up_to: 'x', unread: true }, ME)).toEqual({ kind: 'fetch', id: 'a' });
    const other = applyRead(withUnread, { conversation_id: 'a', user_id: 'buyer', up_to: 'last-a' }, ME);
    expect(other.kind === 'updated' && other.list[0]?.unread_count).toBe(3);
  });

  it('filters like the API', () => {
    const c = conv('a', 1, { channel: 'in_app', status: 'archived', unread_count: 0, property_id: 'p1' });
    expect(matchesFilters(c, NO_FILTERS)).toBe(true);
    expect(matchesFilters(c, { ...NO_FILTERS, unread: true })).toBe(false);
    expect(matchesFilters(c, { ...NO_FILTERS, channel: 'whatsapp' })).toBe(false);
    expect(matchesFilters(c, { ...NO_FILTERS, status: 'open' })).toBe(false);
    expect(matchesFilters(c, { ...NO_FILTERS, propertyId: 'p1' })).toBe(true);
    expect(matchesFilters({ ...c, status: 'closed' }, NO_FILTERS)).toBe(false);
    expect(matchesFilters(c, { ...NO_FILTERS, agentId: ME })).toBe(true);
    expect(matchesFilters(c, { ...NO_FILTERS, agentId: 'agent-2' })).toBe(false);
  });
});
