import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeApi } from '../buyer/testkit';
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

import { AgencyAdmin } from './AgencyAdmin';

const admin = { id: 'u-admin', role: 'agency_admin', display_name: 'Alba Admin', email: 'a@x.example', agency_name: 'Costa Homes', active: true, created_at: '2026-01-01T00:00:00Z' } as User;
const diego = { id: 'u-diego', role: 'agent', display_name: 'Diego Agent', email: 'd@x.example', agency_name: 'Costa Homes', active: true, created_at: '2026-01-02T00:00:00Z' };

beforeEach(() => setLocale('en'));
afterEach(() => vi.unstubAllGlobals());

describe('the agency admin screen', () => {
  test('deactivating an agent is confirmed, then shows; reactivating undoes it', async () => {
    const { calls } = fakeApi({
      'GET /api/v1/agency/agents': [{ ...admin }, diego],
      'GET /api/v1/agency/invites': [],
      'POST /api/v1/agency/agents/u-diego/deactivate': { ...diego, active: false },
      'POST /api/v1/agency/agents/u-diego/reactivate': { ...diego, active: true },
    });
    render(<AgencyAdmin user={admin} />);
    expect(screen.getByRole('link', { name: /Every conversation of the agency/ }).getAttribute('href')).toBe('/inbox');
    fireEvent.click(await screen.findByRole('button', { name: 'Deactivate: Diego Agent' }));
    expect(calls).not.toContain('POST /api/v1/agency/agents/u-diego/deactivate');
    const dialog = (await screen.findByText('Deactivate Diego Agent?')).closest('dialog') as HTMLElement;
    fireEvent.click(within(dialog).getByRole('button', { name: 'Deactivate', hidden: true }));
    await screen.findByRole('button', { name: 'Reactivate: Diego Agent' });
    expect(screen.getByText('Deactivated')).toBeTruthy();
    // Nobody can deactivate themselves: no button on the admin's own row.
    expect(screen.queryByRole('button', { name: 'Deactivate: Alba Admin' })).toBeNull();
  });

  test('a new invite shows its code and join link once; the list shows it', async () => {
    let created = false;
    let body: unknown;
    fakeApi({
      'GET /api/v1/agency/agents': [admin],
      'GET /api/v1/agency/invites': () =>
        created ? [{ id: 'i1', email: 'new@x.example', created_at: '2026-12-01T10:00:00Z', expires_at: '2099-12-08T10:00:00Z', used_at: null, used_by: null }] : [],
      'POST /api/v1/agency/invites': async (req: Request) => {
        body = await req.json();
        created = true;
        return new Response(JSON.stringify({ id: 'i1', code: 'K7QM-3XHD-PW9R', email: 'new@x.example', expires_at: '2099-12-08T10:00:00Z' }), { status: 201, headers: { 'content-type': 'application/json' } });
      },
    });
    render(<AgencyAdmin user={admin} />);
    await screen.findByText('No invites yet');
    fireEvent.change(screen.getByLabelText('Email (optional)'), { target: { value: 'new@x.example' } });
    fireEvent.change(screen.getByLabelText('Valid for'), { target: { value: '72' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create invite' }));
    const code = (await screen.findByLabelText('Invite code')) as HTMLInputElement;
    expect(code.value).toBe('K7QM-3XHD-PW9R');
    expect((screen.getByLabelText('Sign-up link') as HTMLInputElement).value).toBe(`${location.origin}/join?invite=K7QM-3XHD-PW9R`);
    expect(body).toEqual({ email: 'new@x.example', expires_in_hours: 72 });
    await waitFor(() => expect(screen.getAllByText('For new@x.example').length).toBeGreaterThan(1));
    expect(screen.getByText('Waiting')).toBeTruthy();
  });
});
