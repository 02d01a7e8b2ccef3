import { act, renderHook, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const handlers = new Map<string, Set<(e: { data: unknown }) => void>>();
function emit(type: string, data: unknown) {
  for (const h of handlers.get(type) ?? []) h({ data });
}
const sent: unknown[] = [];
vi.mock('../../realtime/socket', () => ({
  on: (type: string, fn: (e: { data: unknown }) => void) => {
    if (!handlers.has(type)) handlers.set(type, new Set());
    handlers.get(type)?.add(fn);
    return () => handlers.get(type)?.delete(fn);
  },
  realtime: { send: (f: unknown) => sent.push(f) },
}));

const GET = vi.fn();
const POST = vi.fn();
vi.mock('../../api/client', () => ({
  api: { GET: (...a: unknown[]) => GET(...a), POST: (...a: unknown[]) => POST(...a) },
  unwrap: async (p: Promise<{ data?: unknown; error?: unknown }>) => {
    const r = await p;
    if (r.error) throw r.error;
    return r.data;
  },
  rawFetch: vi.fn(),
}));

import { useThread } from './useThread';

const ME = { id: 'agent-1', role: 'agent' } as never;
const view = { id: 'c1', channel: 'whatsapp', status: 'open', agent_id: 'agent-1', link_id: 'l1', is_group: false, created_at: '', unread_count: 0, related_conversation_ids: [] };
const stored = (over: Record<string, unknown>) => ({
  id: 's1',
  conversation_id: 'c1',
  direction: 'out',
  author_user_id: 'agent-1',
  kind: 'text',
  body: 'Hola',
  meta: {},
  status: 'pending',
  sent_at: new Date().toISOString(),
  created_at: '',
  reactions: [],
  ...over,
});

describe('useThread sending', () => {
  beforeEach(() => {
    handlers.clear();
    GET.mockReset();
    POST.mockReset();
    GET.mockImplementation(async (path: string) => {
      if (path === '/api/v1/conversations/{id}') return { data: view };
      if (path === '/api/v1/conversations/{id}/messages') return { data: [] };
      throw new Error(path);
    });
  });

  it('shows the message at once, then the stored one; an ack event never moves it back', async () => {
    let answer: (v: unknown) => void = () => undefined;
    POST.mockImplementation(() => new Promise((r) => (answer = r)));
    const { result } = renderHook(() => useThread('c1', ME));
    await waitFor(() => expect(result.current.loading).toBe(false));
    act(() => result.current.send({ body: 'Hola', note: false }));
    expect(result.current.msgs).toHaveLength(1);
    expect(result.current.msgs[0]?.local?.state).toBe('sending');
    const clientId = (POST.mock.calls[0]?.[1] as { body: { client_id: string } }).body.client_id;
    // The outbox's event (sent) arrives before the POST's own answer (pending).
    act(() => emit('message.updated', { conversation_id: 'c1', message: stored({ client_id: clientId, status: 'sent' }) }));
    await act(async () => answer({ data: stored({ client_id: clientId, status: 'pending' }) }));
    expect(result.current.msgs).toHaveLength(1);
    expect(result.current.msgs[0]?.id).toBe('s1');
    expect(result.current.msgs[0]?.status).toBe('sent');
    expect(result.current.msgs[0]?.local).toBeUndefined();
  });

  it('a send that fails is kept as failed and retried with the same client id', async () => {
    POST.mockResolvedValueOnce({ error: new TypeError('offline') });
    const { result } = renderHook(() => useThread('c1', ME));
    await waitFor(() => expect(result.current.loading).toBe(false));
    act(() => result.current.send({ body: 'Hola', note: false }));
    await waitFor(() => expect(result.current.msgs[0]?.local?.state).toBe('failed'));
    const first = (POST.mock.calls[0]?.[1] as { body: { client_id: string } }).body.client_id;
    POST.mockResolvedValueOnce({ data: stored({ client_id: first, status: 'pending' }) });
    const failed = result.current.msgs[0];
    await act(async () => result.current.retry(failed as never));
    await waitFor(() => expect(result.current.msgs[0]?.id).toBe('s1'));
    expect((POST.mock.calls[1]?.[1] as { body: { client_id: string } }).body.client_id).toBe(first);
  });
});
