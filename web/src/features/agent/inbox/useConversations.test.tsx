import { act, renderHook, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const handlers = new Map<string, Set<(e: { data: unknown }) => void>>();
function emit(type: string, data: unknown) {
  for (const h of handlers.get(type) ?? []) h({ data });
}
vi.mock('../../../realtime/socket', () => ({
  on: (type: string, fn: (e: { data: unknown }) => void) => {
    if (!handlers.has(type)) handlers.set(type, new Set());
    handlers.get(type)?.add(fn);
    return () => handlers.get(type)?.delete(fn);
  },
}));

const GET = vi.fn();
vi.mock('../../../api/client', () => ({
  api: { GET: (...a: unknown[]) => GET(...a) },
  unwrap: async (p: Promise<{ data: unknown }>) => (await p).data,
}));

import { useConversations } from './useConversations';
import { NO_FILTERS, type ConversationView } from './listModel';

const ME = { id: 'agent-1', role: 'agent', display_name: 'Diego', email: 'd@x', active: true, created_at: '' } as never;
function conv(id: string, minute: number, over: Partial<ConversationView> = {}): ConversationView {
  const at = new Date(Date.UTC(2026, 10, 30, 10, minute)).toISOString();
  return { id, channel: 'whatsapp', status: 'open', agent_id: 'agent-1', agent_name: 'Diego', is_group: false, created_at: at, last_message_at: at, unread_count: 0, related_conversation_ids: [], ...over };
}
const msg = (id: string, cid: string, minute: number) => ({
  conversation_id: cid,
  message: { id, conversation_id: cid, direction: 'in', kind: 'text', body: id, meta: {}, status: 'sent', sent_at: new Date(Date.UTC(2026, 10, 30, 11, minute)).toISOString(), created_at: '', reactions: [] },
});

describe('useConversations', () => {
  beforeEach(() => {
    handlers.clear();
    GET.mockReset();
  });

  it('loads the first page, then follows live events without losing any', async () => {
    GET.mockImplementation(async (path: string, opts: { params?: { path?: { id: string } } }) => {
      if (path === '/api/v1/conversations') return { data: { items: [conv('b', 2), conv('a', 1)], next_cursor: null } };
      if (path === '/api/v1/conversations/{id}') return { data: conv(opts.params?.path?.id ?? '?', 30, { unread_count: 1 }) };
      throw new Error(path);
    });
    const { result } = renderHook(() => useConversations(ME, NO_FILTERS, undefined));
    await waitFor(() => expect(result.current.list.map((c) => c.id)).toEqual(['b', 'a']));

    // Two messages in the same tick: both count.
    act(() => {
      emit('message.created', msg('m1', 'a', 1));
      emit('message.created', msg('m2', 'a', 2));
    });
    expect(result.current.list[0]?.id).toBe('a');
    expect(result.current.list[0]?.unread_count).toBe(2);
    expect(result.current.list[0]?.last_message?.preview).toBe('m2');

    // A conversation we did not have: fetched and put on top.
    act(() => emit('message.created', msg('m3', 'new', 5)));
    await waitFor(() => expect(result.current.list.map((c) => c.id)).toContain('new'));

    // Closed elsewhere: out of the default list.
    act(() => emit('conversation.updated', { conversation: { ...conv('b', 2), status: 'closed' } }));
    expect(result.current.list.map((c) => c.id)).not.toContain('b');

    // Our own read of the last message clears the count.
    act(() => emit('read', { conversation_id: 'a', user_id: 'agent-1', up_to: 'm2' }));
    expect(result.current.list.find((c) => c.id === 'a')?.unread_count).toBe(0);
  });

  it('asks the server for one agent’s conversations, and drops one reassigned to another', async () => {
    const ADMIN = { id: 'admin-1', role: 'agency_admin', display_name: 'Alba', email: 'a@x', active: true, created_at: '' } as never;
    const eva = (id: string, minute: number) => conv(id, minute, { agent_id: 'agent-2', agent_name: 'Eva' });
    GET.mockImplementation(async (path: string, opts: { params?: { path?: { id: string } } }) => {
      if (path === '/api/v1/conversations') return { data: { items: [eva('e2', 2), eva('e1', 1)], next_cursor: null } };
      if (path === '/api/v1/conversations/{id}') return { data: conv(opts.params?.path?.id ?? '?', 30) };
      throw new Error(path);
    });
    const filters = { ...NO_FILTERS, agentId: 'agent-2' };
    const { result, rerender } = renderHook(({ f }) => useConversations(ADMIN, f, undefined), { initialProps: { f: filters } });
    await waitFor(() => expect(result.current.list.map((c) => c.id)).toEqual(['e2', 'e1']));
    expect(GET).toHaveBeenCalledWith('/api/v1/conversations', { params: { query: expect.objectContaining({ agent_id: 'agent-2' }) } });

    // Reassigned to Diego (agent-1): fetched again, no longer under the filter.
    act(() => emit('conversation.updated', { conversation_id: 'e1', reassigned_to: 'agent-1' }));
    await waitFor(() => expect(result.current.list.map((c) => c.id)).toEqual(['e2']));

    // Everyone's again: the filter leaves the query.
    GET.mockClear();
    rerender({ f: NO_FILTERS });
    await waitFor(() => expect(GET).toHaveBeenCalledWith('/api/v1/conversations', { params: { query: expect.objectContaining({ agent_id: undefined }) } }));
  });
});
