// A thread that holds thousands of messages renders a bounded window of them: at the newest
// on opening, older ones as the reader scrolls up, around the message a search opened it at,
// and around a quoted message far above. The fake server answers every page with all it has,
// so the thread has the whole history loaded at once.
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { setLocale } from '../../i18n';

const handlers = new Map<string, Set<(e: { data: unknown }) => void>>();
function emit(type: string, data: unknown) {
  for (const h of handlers.get(type) ?? []) h({ data });
}
vi.mock('../../realtime/socket', () => ({
  on: (type: string, fn: (e: { data: unknown }) => void) => {
    if (!handlers.has(type)) handlers.set(type, new Set());
    handlers.get(type)?.add(fn);
    return () => handlers.get(type)?.delete(fn);
  },
  realtime: { send: vi.fn() },
}));

const N = 3000;
const base = Date.UTC(2026, 10, 1, 9);
const message = (i: number, over: Record<string, unknown> = {}) => ({
  id: `m${String(i).padStart(4, '0')}`,
  conversation_id: 'c1',
  direction: i % 2 ? 'in' : 'out',
  author_user_id: i % 2 ? null : 'agent-1',
  kind: 'text',
  body: `Message ${i}`,
  meta: {},
  status: 'delivered',
  sent_at: new Date(base + i * 60_000).toISOString(),
  created_at: new Date(base + i * 60_000).toISOString(),
  reactions: [],
  ...over,
});
// The newest one quotes the very first.
const all = Array.from({ length: N }, (_, i) => (i === N - 1 ? message(i, { reply_to_id: 'm0000' }) : message(i)));
const view = { id: 'c1', channel: 'whatsapp', status: 'open', agent_id: 'agent-1', link_id: 'l1', is_group: false, created_at: '', unread_count: 0, related_conversation_ids: [], contact: { name: 'Bea' } };

const GET = vi.fn(async (path: string, init?: { params?: { query?: { before?: string; after?: string } } }) => {
  if (path === '/api/v1/conversations/{id}') return { data: view };
  if (path === '/api/v1/conversations/{id}/messages') {
    const q = init?.params?.query ?? {};
    // newest first, as the API pages; every page is "everything", whatever the limit
    if (q.before) return { data: all.filter((m) => m.id < (q.before as string)).reverse() };
    if (q.after) return { data: all.filter((m) => m.id > (q.after as string)) };
    return { data: [...all].reverse() };
  }
  return { error: { status: 404 } };
});
vi.mock('../../api/client', () => ({
  api: { GET: (...a: unknown[]) => GET(...(a as [string])), POST: vi.fn() },
  unwrap: async (p: Promise<{ data?: unknown; error?: unknown }>) => {
    const r = await p;
    if (r.error) throw r.error;
    return r.data;
  },
  rawFetch: vi.fn(),
}));

import { Thread } from './Thread';
import { WINDOW } from './threadWindow';

const user = { id: 'agent-1', role: 'agent', display_name: 'Diego', email: 'd@example.com', active: true, created_at: '' } as never;
const bubbles = () => [...document.querySelectorAll<HTMLElement>('[data-message-id]')].map((el) => el.dataset.messageId);

function mount(focusMessageId?: string) {
  const r = render(<Thread conversationId="c1" user={user} focusMessageId={focusMessageId} />);
  return r;
}
/** jsdom has no layout: give the scroller a size, and scroll it to the top. */
function scrollToTop() {
  const s = document.querySelector('.thread-scroll') as HTMLElement;
  Object.defineProperty(s, 'clientHeight', { configurable: true, value: 600 });
  Object.defineProperty(s, 'scrollHeight', { configurable: true, value: 20_000 });
  act(() => {
    s.scrollTop = 0;
    fireEvent.scroll(s);
  });
}

beforeEach(() => {
  setLocale('en');
  handlers.clear();
  Element.prototype.scrollIntoView = vi.fn();
});

describe(`a thread with ${N} loaded messages`, { timeout: 30_000 }, () => {
  it('renders a bounded window: the newest on opening, older ones as it scrolls up', async () => {
    mount();
    await screen.findByText(`Message ${N - 1}`);
    expect(bubbles()).toHaveLength(WINDOW);
    expect(bubbles().at(-1)).toBe('m2999');
    expect(bubbles()).not.toContain('m0000');

    scrollToTop();
    expect(bubbles()[0]).toBe(`m${N - WINDOW - 50}`);
    expect(bubbles()).not.toContain('m2999');
    expect(bubbles().length).toBeLessThanOrEqual(WINDOW);

    scrollToTop();
    scrollToTop();
    expect(bubbles()[0]).toBe(`m${N - WINDOW - 150}`);
    expect(bubbles().length).toBeLessThanOrEqual(WINDOW);
    expect(screen.queryByText('This is the start of the conversation.')).toBeNull();

    // back to the newest with the button
    fireEvent.click(screen.getByRole('button', { name: 'Jump to the latest messages' }));
    expect(bubbles().at(-1)).toBe('m2999');
    expect(bubbles()).toHaveLength(WINDOW);
  });

  it('opens around the message a search result points at', async () => {
    mount('m1500');
    await waitFor(() => expect(document.getElementById('msg-m1500')).not.toBeNull());
    expect(bubbles().length).toBeLessThanOrEqual(WINDOW);
    expect(screen.queryByText(`Message ${N - 1}`)).toBeNull();
    expect(Element.prototype.scrollIntoView).toHaveBeenCalled();
    expect(document.getElementById('msg-m1500')?.className).toContain('msg-highlight');
  });

  it('reaches the first message by scrolling up, still a window', async () => {
    mount('m0100');
    await waitFor(() => expect(document.getElementById('msg-m0100')).not.toBeNull());
    scrollToTop();
    scrollToTop();
    expect(bubbles()[0]).toBe('m0000');
    expect(bubbles().length).toBeLessThanOrEqual(WINDOW);
    expect(screen.getByText('This is the start of the conversation.')).toBeTruthy();
  });

  it('jumps to a quoted message far above, and a new message arrives in the window', async () => {
    mount();
    await screen.findByText(`Message ${N - 1}`);
    fireEvent.click(screen.getByRole('button', { name: /Message 0/ }));
    await waitFor(() => expect(document.getElementById('msg-m0000')?.className).toContain('msg-highlight'));
    expect(bubbles().length).toBeLessThanOrEqual(WINDOW);
    expect(bubbles()).not.toContain('m2999');

    fireEvent.click(screen.getByRole('button', { name: 'Jump to the latest messages' }));
    act(() => emit('message.created', { conversation_id: 'c1', message: message(N, { body: 'Just now' }) }));
    expect(screen.getByText('Just now')).toBeTruthy();
    expect(bubbles()).toHaveLength(WINDOW);
  });
});
