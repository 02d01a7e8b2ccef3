import { act, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeApi, makeLink, push, socketMock } from './testkit';
import { setLocale } from '../../../i18n';

// The API client builds Requests from relative paths, which Node's Request cannot resolve:
// resolve them against the page, as a browser does (before the client module captures it).
vi.hoisted(() => {
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' ? new URL(input, globalThis.location?.href ?? 'http://localhost/') : input, init);
    }
  } as typeof Request;
});
vi.mock('../../../realtime/socket', () => socketMock());
vi.mock('../inbox/Inbox', () => ({ Inbox: ({ conversationId }: { conversationId?: string }) => <p>inbox {conversationId ?? '-'}</p> }));
vi.mock('../../listings/ListingsManager', () => ({ ListingsManager: () => <p>listings</p> }));
vi.mock('../../agency/AgencyAdmin', () => ({ AgencyAdmin: () => <p>agency admin</p> }));

import { AgentApp } from '../AgentApp';
import { navigate } from '../../../router';
import type { User } from '../../../session/session';

const agent = { id: 'u1', display_name: 'Diego Agent', role: 'agent', email: 'a@x', active: true, created_at: '2026-01-01T00:00:00Z' } as User;
const admin = { ...agent, role: 'agency_admin' } as User;

beforeEach(() => {
  setLocale('en');
  navigate('/inbox');
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('routing', () => {
  test('/ goes to /inbox (replacing the entry), /inbox/:id passes the id', async () => {
    fakeApi({ 'GET /api/v1/whatsapp/links': [makeLink({ status: 'working' })] });
    navigate('/');
    render(<AgentApp user={agent} />);
    await screen.findByText('inbox -');
    expect(location.pathname).toBe('/inbox');
    act(() => navigate('/inbox/c-42'));
    await screen.findByText('inbox c-42');
  });
  test('listings, agency for admins only, not found', async () => {
    fakeApi({ 'GET /api/v1/whatsapp/links': [makeLink({ status: 'working' })] });
    navigate('/listings/new');
    const { unmount } = render(<AgentApp user={agent} />);
    await screen.findByText('listings');
    act(() => navigate('/agency'));
    await screen.findByRole('heading', { name: /Only agency admins/ });
    act(() => navigate('/nowhere'));
    await screen.findByRole('heading', { name: 'Page not found' });
    unmount();
    navigate('/agency');
    render(<AgentApp user={admin} />);
    await screen.findByText('agency admin');
  });
});

describe('the link alert', () => {
  test('never linked: a call to action to the link screen', async () => {
    fakeApi({ 'GET /api/v1/whatsapp/links': [] });
    render(<AgentApp user={agent} />);
    const aside = await screen.findByRole('complementary', { name: 'WhatsApp link' });
    expect(aside.textContent).toContain('Your WhatsApp is not linked');
    act(() => screen.getByRole('button', { name: 'Link your WhatsApp' }).click());
    expect(location.pathname).toBe('/whatsapp');
    // The link screen itself shows the state; no alert on top of it.
    expect(screen.queryByRole('complementary', { name: 'WhatsApp link' })).toBeNull();
  });

  test('follows link.status live: gone when working, back at once when the phone unlinks', async () => {
    const link = makeLink({ status: 'scan_qr' });
    fakeApi({
      'GET /api/v1/whatsapp/links': [link],
      [`GET /api/v1/whatsapp/links/${link.id}`]: () => undefined,
      [`GET /api/v1/whatsapp/links/${link.id}/qr`]: () => undefined,
    });
    render(<AgentApp user={agent} />);
    await screen.findByText('Scan the QR code to finish linking');
    act(() => push('link.status', { link_id: link.id, status: 'working', phone: '34600000001', push_name: 'Diego', qr_rotations: 1 }));
    await waitFor(() => expect(screen.queryByRole('complementary', { name: 'WhatsApp link' })).toBeNull());
    act(() => push('link.status', { link_id: link.id, status: 'failed', reason: 'logged_out', qr_rotations: 1 }));
    const aside = await screen.findByRole('complementary', { name: 'WhatsApp link' });
    expect(aside.textContent).toContain('Your WhatsApp was unlinked');
    expect(aside.textContent).toContain('Link again and scan the new QR code');
    expect(screen.getByRole('button', { name: 'Link again' })).toBeTruthy();
  });

  test('reloads on resync and on a resumed connection', async () => {
    let answer = [makeLink({ status: 'working' })];
    const { calls } = fakeApi({ 'GET /api/v1/whatsapp/links': () => new Response(JSON.stringify(answer), { headers: { 'content-type': 'application/json' } }) });
    render(<AgentApp user={agent} />);
    await waitFor(() => expect(calls.filter((c) => c === 'GET /api/v1/whatsapp/links')).toHaveLength(1));
    expect(screen.queryByRole('complementary', { name: 'WhatsApp link' })).toBeNull();
    answer = [makeLink({ status: 'failed', status_reason: 'crash_loop' })];
    act(() => push('resync', {}));
    await screen.findByText('Your WhatsApp session keeps stopping');
    answer = [makeLink({ status: 'stopped', status_reason: 'stopped_by_operator' })];
    act(() => push('open', { resumed: false }));
    act(() => push('open', { resumed: true }));
    await screen.findByText('Your WhatsApp session is stopped');
    expect(calls.filter((c) => c === 'GET /api/v1/whatsapp/links')).toHaveLength(3);
  });

  test('Spanish', async () => {
    setLocale('es');
    fakeApi({ 'GET /api/v1/whatsapp/links': [] });
    render(<AgentApp user={agent} />);
    await screen.findByText('Tu WhatsApp no está vinculado');
    expect(screen.getByRole('button', { name: 'Vincular tu WhatsApp' })).toBeTruthy();
  });
});
