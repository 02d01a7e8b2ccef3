import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { locale } from '../../i18n';
import { route } from '../../router';
import type { AdminLink } from './fleet';

const handlers = new Map<string, (e: { type: string; data: unknown }) => void>();
vi.mock('../../realtime/socket', () => ({
  on: (type: string, fn: (e: { type: string; data: unknown }) => void) => {
    handlers.set(type, fn);
    return () => handlers.delete(type);
  },
}));

const links = vi.fn<(stats?: boolean) => Promise<AdminLink[]>>();
const restart = vi.fn<(id: string) => Promise<void>>();
vi.mock('./adminApi', () => ({ adminApi: { links: (s?: boolean) => links(s), restart: (id: string) => restart(id) } }));

const { FleetPage } = await import('./FleetPage');
const { fleetStore } = await import('./fleetStore');

function link(over: Partial<AdminLink>): AdminLink {
  return {
    id: 'id',
    agent_id: 'a',
    agent_email: 'a@example.com',
    agent_name: 'A',
    agency_id: 'ag-1',
    agency_name: 'Costa Homes',
    status: 'working',
    status_reason: null,
    desired_state: 'running',
    phone: null,
    engine: 'GOWS',
    image: 'img',
    container_id: 'c',
    container_name: 'n',
    container_state: 'running',
    started_at: null,
    uptime_secs: 10,
    restart_count: 0,
    docker_restart_count: 0,
    cpu_percent: 0.5,
    memory_used_bytes: 50 * 1024 * 1024,
    memory_limit_bytes: 128 * 1024 * 1024,
    last_event_at: null,
    created_at: '2026-12-01T09:00:00Z',
    ...over,
  };
}

const fleet = [
  link({ id: 'l1', agent_name: 'Diego', phone: '34600111222', status: 'working', uptime_secs: 300 }),
  link({ id: 'l2', agent_name: 'Alba', status: 'failed', status_reason: 'qr_expired', uptime_secs: 20, agency_id: 'ag-2', agency_name: 'Bravo' }),
  link({ id: 'l3', agent_name: 'Carla', status: 'scan_qr', uptime_secs: 50 }),
];

const names = () => screen.getAllByRole('row').slice(1).map((r) => within(r).getAllByRole('link')[0]?.textContent);

beforeEach(() => {
  locale.set('en');
  history.replaceState(null, '', '/fleet');
  route.set({ path: '/fleet', query: new URLSearchParams() });
  fleetStore.set({ links: null, error: undefined, loadedAt: null, loading: false });
  links.mockResolvedValue(fleet);
});
afterEach(() => vi.clearAllMocks());

describe('FleetPage', () => {
  it('counts, sorts by clicking headers and filters by status', async () => {
    render(<FleetPage />);
    await screen.findByText('Diego');
    const summary = screen.getByRole('list', { name: 'Links by status' });
    expect(within(summary).getByRole('button', { name: /3\s*All links/ })).toBeTruthy();
    expect(within(summary).getByRole('button', { name: /1\s*Failed/ })).toBeTruthy();
    // default: status, what needs attention first
    expect(names()).toEqual(['Alba', 'Carla', 'Diego']);
    expect(screen.getByText('QR code expired')).toBeTruthy();
    expect(screen.getAllByText('50 MiB of 128 MiB')).toHaveLength(3);

    const uptime = screen.getByRole('columnheader', { name: /Uptime/ });
    fireEvent.click(within(uptime).getByRole('button'));
    expect(uptime.getAttribute('aria-sort')).toBe('descending');
    expect(names()).toEqual(['Diego', 'Carla', 'Alba']);
    fireEvent.click(within(uptime).getByRole('button'));
    expect(uptime.getAttribute('aria-sort')).toBe('ascending');
    expect(names()).toEqual(['Alba', 'Carla', 'Diego']);
    expect(screen.getByRole('columnheader', { name: /Agent/ }).getAttribute('aria-sort')).toBe('none');

    fireEvent.click(within(summary).getByRole('button', { name: /Failed/ }));
    expect(names()).toEqual(['Alba']);
    expect(location.search).toContain('status=failed');
    fireEvent.click(screen.getAllByRole('button', { name: 'Clear filters' })[0] as HTMLElement);
    expect(names()).toHaveLength(3);
  });

  it('searches by phone digits and by agency', async () => {
    render(<FleetPage />);
    await screen.findByText('Diego');
    fireEvent.change(screen.getByLabelText('Search agent or phone'), { target: { value: '+34 600 111' } });
    expect(names()).toEqual(['Diego']);
    fireEvent.change(screen.getByLabelText('Search agent or phone'), { target: { value: '' } });
    fireEvent.change(screen.getByLabelText('Agency'), { target: { value: 'ag-2' } });
    expect(names()).toEqual(['Alba']);
  });

  it('"/" focuses the search box', async () => {
    render(<FleetPage />);
    await screen.findByText('Diego');
    fireEvent.keyDown(document.body, { key: '/' });
    expect(document.activeElement).toBe(screen.getByLabelText('Search agent or phone'));
  });

  it('applies link.status frames at once', async () => {
    render(<FleetPage />);
    await screen.findByText('Diego');
    const row = () => screen.getAllByRole('row').find((r) => r.getAttribute('data-link') === 'l1') as HTMLElement;
    expect(within(row()).getByText('Working')).toBeTruthy();
    act(() => handlers.get('link.status')?.({ type: 'link.status', data: { link_id: 'l1', status: 'starting', reason: null } }));
    expect(within(row()).getByText('Starting')).toBeTruthy();
    act(() => handlers.get('link.status')?.({ type: 'link.status', data: { link_id: 'l1', status: 'stopped', reason: 'deleted' } }));
    expect(screen.queryByText('Diego')).toBeNull();
  });

  it('restarts every failed link after confirming', async () => {
    restart.mockResolvedValue(undefined);
    render(<FleetPage />);
    await screen.findByText('Diego');
    expect(screen.getByText('Failed links need attention: 1.')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Restart failed links (1)' }));
    const confirm = await screen.findAllByRole('button', { name: 'Restart failed links (1)', hidden: true });
    fireEvent.click(confirm[confirm.length - 1] as HTMLElement);
    await act(async () => {
      await Promise.resolve();
    });
    expect(restart).toHaveBeenCalledTimes(1);
    expect(restart).toHaveBeenCalledWith('l2');
  });

  it('does not poll while the tab is hidden', async () => {
    vi.useFakeTimers();
    try {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      render(<FleetPage />);
      await act(async () => {
        await vi.advanceTimersByTimeAsync(20_000);
      });
      expect(links).not.toHaveBeenCalled();
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      await act(async () => {
        document.dispatchEvent(new Event('visibilitychange'));
        await vi.advanceTimersByTimeAsync(10);
      });
      expect(links).toHaveBeenCalledTimes(1);
      await act(async () => {
        await vi.advanceTimersByTimeAsync(5_100);
      });
      expect(links).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    }
  });
});
