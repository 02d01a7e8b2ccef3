import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen } from '@testing-library/react';
import { locale } from '../../i18n';

type LogsQuery = { tail?: number; since?: number; after?: string };
const logs = vi.fn<(id: string, q: LogsQuery) => Promise<{ lines: string[]; times?: (string | null)[]; cursor: string | null; serverTime: number }>>();
vi.mock('./adminApi', () => ({ adminApi: { logs: (id: string, q: LogsQuery) => logs(id, q) } }));

const { LogViewer, FOLLOW_MS } = await import('./LogViewer');

const flush = async (ms = 0) => {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
};

beforeEach(() => {
  locale.set('en');
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.clearAllMocks();
});

describe('LogViewer', () => {
  it('follows from the cursor of the previous answer', async () => {
    logs.mockResolvedValueOnce({ lines: ['one', 'two'], cursor: 'T2', serverTime: 1000 });
    render(<LogViewer linkId="L" headingId="h" containerState="running" />);
    await flush();
    logs.mockResolvedValueOnce({ lines: ['two', 'three'], cursor: 'T3', serverTime: 1003 });
    await flush(FOLLOW_MS);
    expect(logs).toHaveBeenLastCalledWith('L', { tail: 5000, after: 'T2' });
    // a cursor answer is exact: even a repeated text is a new line
    expect(screen.getByTestId('link-logs').textContent).toBe('one\ntwo\ntwo\nthree\n');
    logs.mockResolvedValueOnce({ lines: [], cursor: 'T3', serverTime: 1006 });
    await flush(FOLLOW_MS);
    expect(logs).toHaveBeenLastCalledWith('L', { tail: 5000, after: 'T3' });
  });

  it('without a cursor, follows with `since` just before the last answer, without repeating lines', async () => {
    logs.mockResolvedValueOnce({ lines: ['one', 'two'], cursor: null, serverTime: 1000 });
    render(<LogViewer linkId="L" headingId="h" containerState="running" />);
    await flush();
    expect(logs).toHaveBeenLastCalledWith('L', { tail: 200 });
    expect(screen.getByTestId('link-logs').textContent).toBe('one\ntwo\n');

    logs.mockResolvedValueOnce({ lines: ['two', 'three'], cursor: null, serverTime: 1003 });
    await flush(FOLLOW_MS);
    expect(logs).toHaveBeenLastCalledWith('L', { tail: 5000, since: 998 });
    expect(screen.getByTestId('link-logs').textContent).toBe('one\ntwo\nthree\n');
    expect(screen.getByText(/3 lines/)).toBeTruthy();

    // pause: no more polling
    fireEvent.click(screen.getByRole('button', { name: 'Pause' }));
    const calls = logs.mock.calls.length;
    await flush(FOLLOW_MS * 3);
    expect(logs.mock.calls.length).toBe(calls);
    expect(screen.getByText(/Paused/)).toBeTruthy();
  });

  it('changing the number of lines reloads the tail', async () => {
    logs.mockResolvedValue({ lines: ['x'], cursor: null, serverTime: 1 });
    render(<LogViewer linkId="L" headingId="h" containerState="running" />);
    await flush();
    fireEvent.change(screen.getByLabelText('Show'), { target: { value: '1000' } });
    await flush();
    expect(logs).toHaveBeenLastCalledWith('L', { tail: 1000 });
  });

  it('does not poll a container that is not running, and asks nothing without one', async () => {
    logs.mockResolvedValue({ lines: ['old'], cursor: null, serverTime: 1 });
    const { rerender } = render(<LogViewer linkId="L" headingId="h" containerState="exited" />);
    await flush(FOLLOW_MS * 3);
    expect(logs).toHaveBeenCalledTimes(1);
    expect(screen.getByText(/not running/)).toBeTruthy();
    rerender(<LogViewer linkId="L" headingId="h" containerState="absent" />);
    await flush(FOLLOW_MS * 2);
    expect(logs).toHaveBeenCalledTimes(1);
    expect(screen.getByText(/no container right now/)).toBeTruthy();
  });

  it('shows the engine times on demand', async () => {
    logs.mockResolvedValue({ lines: ['hello'], times: ['2026-12-01T09:29:31.244Z'], cursor: 'c', serverTime: 1 });
    render(<LogViewer linkId="L" headingId="h" containerState="exited" />);
    await flush();
    expect(screen.getByTestId('link-logs').textContent).toBe('hello\n');
    fireEvent.click(screen.getByRole('button', { name: 'Times' }));
    expect(screen.getByTestId('link-logs').textContent).toMatch(/^\d\d:\d\d:\d\d\.244 hello\n$/);
  });
});
