import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ReactNode } from 'react';
import { fakeApi } from './testkit';
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
// The thread itself belongs to the chat feature; here only its header actions matter.
vi.mock('../chat/Thread', () => ({
  Thread: ({ headerActions }: { headerActions?: ReactNode }) => <header>{headerActions}</header>,
}));

import { BuyerThread } from './BuyerThread';

const user = { id: 'u-buyer', role: 'buyer', display_name: 'Lucía', email: 'l@example.com', active: true, created_at: '2026-01-01T00:00:00Z' } as User;
const conv = {
  id: 'c1',
  channel: 'in_app',
  status: 'open',
  agent_id: 'u-agent',
  buyer_id: 'u-buyer',
  property_id: 'p1',
  is_group: false,
  created_at: '2026-01-01T00:00:00Z',
  unread_count: 0,
  counterpart: { kind: 'agent', id: 'u-agent', name: 'Diego Agent' },
  property_title: 'Penthouse',
  related_conversation_ids: [],
};

beforeEach(() => setLocale('en'));
afterEach(() => vi.unstubAllGlobals());

describe('block and report in the buyer’s thread', () => {
  test('block (confirmed), the blocked bar, then unblock', async () => {
    let blocked = false;
    const { calls } = fakeApi({
      'GET /api/v1/conversations/c1': conv,
      'GET /api/v1/blocks': () => (blocked ? [{ user_id: 'u-agent', display_name: 'Diego Agent', created_at: '2026-01-01T00:00:00Z' }] : []),
      'POST /api/v1/users/u-agent/block': () => {
        blocked = true;
        return { user_id: 'u-agent', display_name: 'Diego Agent', created_at: '2026-01-01T00:00:00Z' };
      },
      'DELETE /api/v1/users/u-agent/block': () => {
        blocked = false;
        return undefined;
      },
    });
    render(<BuyerThread user={user} conversationId="c1" onBack={() => {}} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Block' }));
    expect(calls).not.toContain('POST /api/v1/users/u-agent/block');
    const confirm = await screen.findByText('Block Diego Agent?');
    const dialog = confirm.closest('dialog') as HTMLElement;
    fireEvent.click(Array.from(dialog.querySelectorAll('button')).find((b) => b.textContent === 'Block') as HTMLElement);
    await screen.findByText('You blocked Diego Agent');
    expect(calls).toContain('POST /api/v1/users/u-agent/block');

    fireEvent.click(screen.getAllByRole('button', { name: 'Unblock' })[0] as HTMLElement);
    await waitFor(() => expect(screen.queryByText('You blocked Diego Agent')).toBeNull());
    expect(calls).toContain('DELETE /api/v1/users/u-agent/block');
  });

  test('a report needs a reason and names the conversation', async () => {
    let body: unknown;
    fakeApi({
      'GET /api/v1/conversations/c1': conv,
      'GET /api/v1/blocks': [],
      'POST /api/v1/users/u-agent/report': async (req: Request) => {
        body = await req.json();
        return { id: 'r1' };
      },
    });
    render(<BuyerThread user={user} conversationId="c1" onBack={() => {}} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Report' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Send report', hidden: true }));
    await screen.findByText('Describe what happened.');
    fireEvent.change(screen.getByLabelText('What happened?'), { target: { value: '  Asked for a deposit outside the app. ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send report', hidden: true }));
    await waitFor(() => expect(body).toEqual({ reason: 'Asked for a deposit outside the app.', conversation_id: 'c1' }));
  });
});
