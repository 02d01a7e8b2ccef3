import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeApi, json, makeLink, push, socketMock } from './testkit';
import { setLocale } from '../../../i18n';

vi.hoisted(() => {
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' ? new URL(input, globalThis.location?.href ?? 'http://localhost/') : input, init);
    }
  } as typeof Request;
});
vi.mock('../../../realtime/socket', () => socketMock());

import { LinkScreen } from './LinkScreen';
import { useLinkTracking } from './linkStore';

function Screen() {
  useLinkTracking();
  return <LinkScreen />;
}

const PNG1 = 'data:image/png;base64,AAAA';
const PNG2 = 'data:image/png;base64,BBBB';

beforeEach(() => setLocale('en'));
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('the link screen', () => {
  test('one click links: starting → the QR, replaced at every rotation with its countdown → linked, live', async () => {
    const created = makeLink({ status: 'provisioning', qr_rotations: 0, container: null });
    const id = created.id;
    const { calls } = fakeApi({
      'GET /api/v1/whatsapp/links': [],
      'POST /api/v1/whatsapp/links': () => json(created, 201),
      [`GET /api/v1/whatsapp/links/${id}`]: () => undefined,
      [`GET /api/v1/whatsapp/links/${id}/qr`]: () => json({ code: 'link_not_scanning', status: 409 }, 409),
      [`GET /api/v1/whatsapp/links/${id}/phone`]: () => json({ code: 'not_emulator', status: 404 }, 404),
    });
    render(<Screen />);
    const button = await screen.findByRole('button', { name: 'Link WhatsApp' });
    fireEvent.click(button);
    await screen.findByText('Starting your WhatsApp session…', { selector: '.link-waiting-text' });
    expect(calls).toContain('POST /api/v1/whatsapp/links');
    const steps = screen.getByRole('list', { name: 'Linking steps' });
    expect(within(steps).getAllByRole('listitem')[0]?.getAttribute('aria-current')).toBe('step');

    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    act(() => {
      push('link.status', { link_id: id, status: 'scan_qr', qr_rotations: 1 });
      push('link.qr', { link_id: id, image: PNG1, rotation: 1 });
    });
    const img = await screen.findByRole('img', { name: /QR code to link WhatsApp/ });
    expect(img.getAttribute('src')).toBe(PNG1);
    expect(within(steps).getAllByRole('listitem')[1]?.getAttribute('aria-current')).toBe('step');
    expect(screen.getByText('Code 1 of 6')).toBeTruthy();
    expect(screen.getByText('60 s left on this code')).toBeTruthy();
    act(() => vi.advanceTimersByTime(15_000));
    expect(screen.getByText('45 s left on this code')).toBeTruthy();

    act(() => {
      push('link.status', { link_id: id, status: 'scan_qr', qr_rotations: 2 });
      push('link.qr', { link_id: id, image: PNG2, rotation: 2 });
    });
    expect(screen.getByRole('img', { name: /Code 2 of 6/ }).getAttribute('src')).toBe(PNG2);
    expect(screen.getByText('20 s left on this code')).toBeTruthy();
    act(() => vi.advanceTimersByTime(21_000));
    expect(screen.getByText('Waiting for the next code…')).toBeTruthy();
    vi.useRealTimers();

    act(() => push('link.status', { link_id: id, status: 'working', phone: '34600000001', push_name: 'Diego', qr_rotations: 2 }));
    await screen.findByRole('heading', { name: 'WhatsApp is linked' });
    expect(screen.getByText('+34 600 000 001')).toBeTruthy();
    expect(screen.getByText('Diego')).toBeTruthy();
    expect(screen.queryByRole('img', { name: /QR code/ })).toBeNull();
  });

  test('on load while scanning, the QR is fetched; the pairing code is shown spaced, with copy', async () => {
    const link = makeLink({ status: 'scan_qr', qr_rotations: 3 });
    const { calls } = fakeApi({
      'GET /api/v1/whatsapp/links': [link],
      [`GET /api/v1/whatsapp/links/${link.id}/qr`]: () => new Response(new Blob(['png']), { headers: { 'content-type': 'image/png' } }),
      [`GET /api/v1/whatsapp/links/${link.id}/phone`]: { url: 'http://127.0.0.1:49152/__emulator/phone?x-api-key=k' },
      [`POST /api/v1/whatsapp/links/${link.id}/pairing-code`]: async (req: Request) => {
        const body = (await req.json()) as { phone_number: string };
        expect(body.phone_number).toBe('34600000001');
        return json({ code: 'ABCD-EFGH' });
      },
    });
    const created: string[] = [];
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => (created.push('x'), 'blob:qr-1'), revokeObjectURL: () => {} }));
    render(<Screen />);
    const img = await screen.findByRole('img', { name: /Code 3 of 6/ });
    expect(img.getAttribute('src')).toBe('blob:qr-1');
    expect(calls).toContain(`GET /api/v1/whatsapp/links/${link.id}/qr`);

    const sim = await screen.findByRole('link', { name: /Open the simulated phone/ });
    expect(sim.getAttribute('target')).toBe('_blank');
    expect(sim.getAttribute('rel')).toContain('noopener');

    fireEvent.click(screen.getByText('Link with your phone number instead'));
    const input = screen.getByLabelText('Your WhatsApp number, with country code');
    fireEvent.change(input, { target: { value: '12' } });
    fireEvent.click(screen.getByRole('button', { name: 'Get a code' }));
    await screen.findByText(/Enter 6 to 15 digits/);
    fireEvent.change(input, { target: { value: '+34 600 000 001' } });
    fireEvent.click(screen.getByRole('button', { name: 'Get a code' }));
    const code = await screen.findByText('ABCD EFGH');
    expect(code.tagName).toBe('OUTPUT');
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    fireEvent.click(screen.getByRole('button', { name: 'Copy the pairing code' }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith('ABCD-EFGH'));
  });

  test('a dropped link says why and fixes it with a restart; unlink is confirmed', async () => {
    const dropped = makeLink({ status: 'failed', status_reason: 'logged_out', qr_rotations: 0 });
    const { calls } = fakeApi({
      'GET /api/v1/whatsapp/links': [dropped],
      [`GET /api/v1/whatsapp/links/${dropped.id}/phone`]: () => json({ code: 'not_emulator', status: 404 }, 404),
      [`GET /api/v1/whatsapp/links/${dropped.id}/qr`]: () => json({ code: 'link_not_scanning', status: 409 }, 409),
      [`POST /api/v1/whatsapp/links/${dropped.id}/restart`]: () => json({ ...dropped, status: 'starting', status_reason: null }, 202),
      [`POST /api/v1/whatsapp/links/${dropped.id}/logout`]: () => json({ ...dropped, status: 'starting', status_reason: 'logged_out', phone: null }, 202),
    });
    render(<Screen />);
    await screen.findByRole('heading', { name: 'Your WhatsApp was unlinked' });
    fireEvent.click(screen.getByRole('button', { name: 'Link again' }));
    await screen.findByText('Starting your WhatsApp session…', { selector: '.link-waiting-text' });
    expect(calls).toContain(`POST /api/v1/whatsapp/links/${dropped.id}/restart`);

    act(() => push('link.status', { link_id: dropped.id, status: 'working', phone: '34600000001', qr_rotations: 1 }));
    await screen.findByRole('heading', { name: 'WhatsApp is linked' });
    // jsdom has no showModal: give the dialog one.
    HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
      this.open = true;
    };
    HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
      this.open = false;
    };
    fireEvent.click(screen.getByRole('button', { name: 'Unlink this phone' }));
    const dialog = await screen.findByRole('dialog', { name: 'Unlink +34 600 000 001?' });
    expect(dialog.textContent).toContain('Your conversations stay');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Unlink' }));
    await waitFor(() => expect(calls).toContain(`POST /api/v1/whatsapp/links/${dropped.id}/logout`));
    await screen.findByText('Starting your WhatsApp session…', { selector: '.link-waiting-text' });
  });
});
