import { act, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ReactNode } from 'react';
import { fakeApi, listing } from './testkit';
import { setLocale } from '../../i18n';
import type { User } from '../../session/session';

vi.hoisted(() => {
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' ? new URL(input, globalThis.location?.href ?? 'http://localhost/') : input, init);
    }
  } as typeof Request;
});
const socket = vi.hoisted(() => {
  const handlers = new Map<string, Set<(e: unknown) => void>>();
  return {
    handlers,
    push(type: string, data: unknown) {
      for (const h of handlers.get(type) ?? []) h({ type, data });
    },
  };
});
vi.mock('../../realtime/socket', () => ({
  on: (type: string, fn: (e: unknown) => void) => {
    let s = socket.handlers.get(type);
    if (!s) socket.handlers.set(type, (s = new Set()));
    s.add(fn);
    return () => s.delete(fn);
  },
  realtime: { send: () => {} },
}));
vi.mock('./BuyerThread', () => ({ BuyerThread: (): ReactNode => null }));

import { Chats } from './Chats';

const user = { id: 'u-buyer', role: 'buyer', display_name: 'Lucía', email: 'l@example.com', active: true, created_at: '2026-01-01T00:00:00Z' } as User;
const view = (over: Record<string, unknown> = {}) => ({
  id: 'c1',
  channel: 'in_app',
  status: 'open',
  agent_id: 'u-agent',
  buyer_id: 'u-buyer',
  property_id: 'p1',
  is_group: false,
  created_at: '2026-11-30T10:00:00Z',
  last_message_at: '2026-11-30T10:05:00Z',
  unread_count: 0,
  counterpart: { kind: 'agent', id: 'u-agent', name: 'Diego Agent' },
  property_title: 'Penthouse with rooftop terrace',
  last_message: { id: 'm1', direction: 'out', kind: 'text', preview: 'Hola', sent_at: '2026-11-30T10:05:00Z' },
  related_conversation_ids: [],
  ...over,
});

beforeEach(() => setLocale('en'));
afterEach(() => vi.unstubAllGlobals());

describe('the buyer’s chat list', () => {
  test('shows the agent, listing and last message; typing and new messages show live', async () => {
    let page = [view()];
    const { calls } = fakeApi({
      'GET /api/v1/conversations': () => ({ items: page, next_cursor: null }),
      'GET /api/v1/properties/p1': listing(),
    });
    render(<Chats user={user} openId={null} />);
    await screen.findByText('Diego Agent');
    expect(screen.getByText('Penthouse with rooftop terrace')).toBeTruthy();
    expect(screen.getByText('Hola')).toBeTruthy();
    expect(calls[0]).toContain('channel=in_app');

    act(() => socket.push('typing', { conversation_id: 'c1', user_id: 'u-agent', typing: true, expires_in_ms: 6000 }));
    expect(screen.getByText('typing…')).toBeTruthy();

    page = [view({ unread_count: 2, last_message: { id: 'm2', direction: 'out', kind: 'image', preview: 'Photo', sent_at: '2026-11-30T10:06:00Z' } })];
    act(() => socket.push('message.created', { conversation_id: 'c1' }));
    await screen.findByText('Photo');
    expect(screen.queryByText('typing…')).toBeNull();
    expect(screen.getByLabelText('2 unread').textContent).toBe('2');
    await waitFor(() => expect(calls.filter((c) => c.startsWith('GET /api/v1/conversations')).length).toBe(2));
  });

  test('no conversations yet: says how to start one', async () => {
    fakeApi({ 'GET /api/v1/conversations': { items: [], next_cursor: null } });
    render(<Chats user={user} openId={null} />);
    await screen.findByText('No conversations yet');
    expect(screen.getByRole('link', { name: 'Browse homes' }).getAttribute('href')).toBe('/listings');
  });
});
