import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeApi } from '../../buyer/testkit';
import { setLocale } from '../../../i18n';
import type { User } from '../../../session/session';

vi.hoisted(() => {
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' ? new URL(input, globalThis.location?.href ?? 'http://localhost/') : input, init);
    }
  } as typeof Request;
});

import { ConversationRow } from './ConversationRow';
import { FilterBar } from './Inbox';
import { NO_FILTERS, type ConversationView, type Filters } from './listModel';
import { ThreadHeader } from '../../chat/ThreadHeader';

const admin = { id: 'u-admin', role: 'agency_admin', display_name: 'Alba Admin', email: 'alba@x.example', agency_name: 'Costa Homes', active: true, created_at: '' } as User;
const agent = { ...admin, id: 'u-diego', role: 'agent', display_name: 'Diego Agent', email: 'diego@x.example' } as User;
const staff = [
  { ...admin },
  { ...agent },
  { ...agent, id: 'u-eva', display_name: 'Eva Agente', email: 'eva@x.example' },
  { ...agent, id: 'u-old', display_name: 'Carla Antigua', email: 'carla@x.example', active: false },
];

function conv(over: Partial<ConversationView> = {}): ConversationView {
  const at = '2026-11-30T10:00:00Z';
  return {
    id: 'c1',
    channel: 'whatsapp',
    status: 'open',
    agent_id: 'u-eva',
    agent_name: 'Eva Agente',
    is_group: false,
    contact: { id: 'k1', name: 'Bea', phone: '34600111222' },
    counterpart: { kind: 'contact', id: 'k1', name: 'Bea' },
    created_at: at,
    last_message_at: at,
    unread_count: 0,
    related_conversation_ids: [],
    last_message: { id: 'm1', direction: 'in', kind: 'text', preview: 'Hola', sent_at: at },
    ...over,
  };
}

beforeEach(() => setLocale('en'));
afterEach(() => vi.unstubAllGlobals());

describe('whose conversation it is', () => {
  it('a row names its agent for an agency admin, and only then', () => {
    const { rerender } = render(<ConversationRow c={conv()} active={false} meId="u-admin" focusable showAgent />);
    const row = screen.getByRole('link');
    expect(row.textContent).toContain('Eva Agente');
    expect(row.getAttribute('href')).toBe('/inbox/c1');
    // Screen readers hear it as the agent, not as a second contact name.
    expect(within(row).getByText('Agent:')).toBeTruthy();
    rerender(<ConversationRow c={conv()} active={false} meId="u-eva" focusable />);
    expect(screen.getByRole('link').textContent).not.toContain('Eva Agente');
  });

  it('the thread header names the agent for an agency admin, not for the agent', () => {
    const props = { conv: conv(), typing: null, online: undefined, onChanged: () => undefined };
    const { rerender } = render(<ThreadHeader {...props} user={admin} />);
    expect(screen.getByText('Agent: Eva Agente')).toBeTruthy();
    rerender(<ThreadHeader {...props} user={{ ...agent, id: 'u-eva' } as User} />);
    expect(screen.queryByText(/Agent: /)).toBeNull();
  });

  it('an agency admin filters the inbox by agent, picked from the agency’s staff', async () => {
    const { calls } = fakeApi({ 'GET /api/v1/properties': { items: [], next_cursor: null }, 'GET /api/v1/agency/agents': staff });
    const changes: Filters[] = [];
    render(<FilterBar user={admin} filters={NO_FILTERS} onChange={(f) => changes.push(f)} />);
    const select = (await screen.findByLabelText('Agent')) as HTMLSelectElement;
    expect([...select.options].map((o) => o.text)).toEqual(['All agents', 'Alba Admin', 'Carla Antigua (inactive)', 'Diego Agent', 'Eva Agente']);
    fireEvent.change(select, { target: { value: 'u-eva' } });
    expect(changes).toEqual([{ ...NO_FILTERS, agentId: 'u-eva' }]);
    expect(calls).toContain('GET /api/v1/agency/agents');
  });

  it('an agent has no agent filter and does not ask for the staff', async () => {
    const { calls } = fakeApi({ 'GET /api/v1/properties': { items: [], next_cursor: null }, 'GET /api/v1/agency/agents': staff });
    render(<FilterBar user={agent} filters={NO_FILTERS} onChange={() => undefined} />);
    await waitFor(() => expect(calls).toContain('GET /api/v1/properties?mine=true&limit=100'));
    expect(screen.queryByLabelText('Agent')).toBeNull();
    expect(calls.some((c) => c.startsWith('GET /api/v1/agency/agents'))).toBe(false);
  });

  it('the chosen agent stays selected', async () => {
    fakeApi({ 'GET /api/v1/properties': { items: [], next_cursor: null }, 'GET /api/v1/agency/agents': staff });
    render(<FilterBar user={admin} filters={{ ...NO_FILTERS, agentId: 'u-diego' }} onChange={() => undefined} />);
    const select = (await screen.findByLabelText('Agent')) as HTMLSelectElement;
    expect(select.value).toBe('u-diego');
  });
});
