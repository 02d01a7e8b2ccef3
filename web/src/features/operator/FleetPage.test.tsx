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
const { fleetStore, refreshFleet } = await import('./fleetStore');

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

describe('a fleet of 5,000 links', () => {
  // Agent names in scrambled order; one failed link near the end, the alphabetical first in
  // the middle: what the table shows first depends on sorting all 5,000, not on the input order.
  const N = 5000;
  const big = Array.from({ length: N }, (_, i) => {
    const k = (i * 7919) % N; // a permutation of 0..N-1
    return link({
      id: `l${i}`,
      agent_name: `Agent ${String(k).padStart(4, '0')}`,
      agent_email: `agent${i}@example.com`,
      phone: `3460${String(i).padStart(7, '0')}`,
      status: i === 4990 ? 'failed' : 'working',
      uptime_secs: i,
    });
  });
  const rows = () => [...document.querySelectorAll<HTMLElement>('tbody tr[data-link]')];
  const firstName = () => within(rows()[0] as HTMLElement).getAllByRole('link')[0]?.textContent;

  // A page that scrolls: the wrapper is the scroller, 600 px tall, and the table body's box
  // moves up as it scrolls (jsdom has no layout).
  let scroller: HTMLDivElement;
  const rect = (top: number, height: number) => ({ top, bottom: top + height, height, left: 0, right: 0, width: 0, x: 0, y: top, toJSON: () => ({}) });
  beforeEach(() => {
    links.mockResolvedValue(big);
    vi.spyOn(Element.prototype, 'getBoundingClientRect').mockImplementation(function (this: Element) {
      if (this === scroller) return rect(0, 600);
      if (this.tagName === 'TBODY') return rect(-(scroller?.scrollTop ?? 0), N * 76);
      return rect(0, 0);
    });
  });
  afterEach(() => vi.restoreAllMocks());

  function renderInPage() {
    const r = render(
      <div style={{ overflowY: 'auto', height: 600 }}>
        <FleetPage />
      </div>,
    );
    scroller = r.container.firstElementChild as HTMLDivElement;
    Object.defineProperty(scroller, 'clientHeight', { configurable: true, value: 600 });
    Object.defineProperty(scroller, 'scrollHeight', { configurable: true, value: N * 76 + 600 });
    return r;
  }

  it('keeps a bounded number of rows in the DOM, sorted and filtered over all links', async () => {
    renderInPage();
    await screen.findByText('5000 of 5000 links');
    const table = screen.getByRole('table');
    expect(table.getAttribute('aria-rowcount')).toBe(String(N + 1));
    expect(rows().length).toBeGreaterThan(5);
    expect(rows().length).toBeLessThan(40);
    expect(rows()[0]?.getAttribute('aria-rowindex')).toBe('2');
    // by status: the one failed link (input position 4990) comes first
    expect(rows()[0]?.getAttribute('data-link')).toBe('l4990');

    const agent = screen.getByRole('columnheader', { name: /Agent/ });
    fireEvent.click(within(agent).getByRole('button'));
    expect(firstName()).toBe('Agent 0000');
    fireEvent.click(within(agent).getByRole('button'));
    expect(firstName()).toBe('Agent 4999');
    expect(rows().length).toBeLessThan(40);

    // scrolled to the middle: the rows there, and still only a window of them
    act(() => {
      scroller.scrollTop = 2500 * 76;
      fireEvent.scroll(scroller);
    });
    const indexes = rows().map((r) => Number(r.getAttribute('aria-rowindex')));
    expect(indexes).toContain(2500 + 2);
    expect(Math.min(...indexes)).toBeGreaterThan(2400);
    expect(rows().length).toBeLessThan(40);
    expect(screen.getByText(`Agent ${String(N - 1 - 2500).padStart(4, '0')}`)).toBeTruthy();

    // the search reaches a link far outside the window
    fireEvent.change(screen.getByLabelText('Search agent or phone'), { target: { value: 'agent4321@' } });
    expect(rows().map((r) => r.getAttribute('data-link'))).toEqual(['l4321']);
    expect(screen.getByText('1 of 5000 links')).toBeTruthy();
  });

  it('has one tab stop; the arrow keys, End and Home move between links beyond the window', async () => {
    renderInPage();
    await screen.findByText('5000 of 5000 links');
    const tabbable = () => rows().flatMap((r) => [...r.querySelectorAll('a')]).filter((a) => a.tabIndex === 0);
    expect(tabbable()).toHaveLength(1);
    const first = tabbable()[0] as HTMLElement;
    first.focus();
    fireEvent.keyDown(first, { key: 'ArrowDown' });
    expect(document.activeElement?.closest('tr')?.getAttribute('aria-rowindex')).toBe('3');
    fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'End' });
    expect(document.activeElement?.closest('tr')?.getAttribute('aria-rowindex')).toBe(String(N + 1));
    expect(rows().length).toBeLessThan(40);
    expect(tabbable()).toEqual([document.activeElement]);
    fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Home' });
    expect(document.activeElement?.closest('tr')?.getAttribute('data-link')).toBe('l4990');
  });

  it('a poll that brings the same links back keeps the list as it was', async () => {
    renderInPage();
    await screen.findByText('5000 of 5000 links');
    const before = fleetStore.get().links;
    links.mockResolvedValue(big.map((l) => ({ ...l })));
    await act(async () => {
      await refreshFleet();
    });
    expect(fleetStore.get().links).toBe(before);
    links.mockResolvedValue(big.map((l) => (l.id === 'l7' ? { ...l, uptime_secs: 99_999 } : { ...l })));
    await act(async () => {
      await refreshFleet();
    });
    const after = fleetStore.get().links ?? [];
    expect(after).not.toBe(before);
    expect(after.filter((l, i) => l !== before?.[i]).map((l) => l.id)).toEqual(['l7']);
  });
});
