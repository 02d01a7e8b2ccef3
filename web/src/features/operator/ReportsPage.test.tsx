import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { locale } from '../../i18n';
import { route } from '../../router';
import type { Report } from './adminApi';

const reports = vi.fn<(q: { status?: string; before?: string; limit?: number }) => Promise<Report[]>>();
const resolve = vi.fn<(id: string, status: string, note: string) => Promise<Report>>();
vi.mock('./adminApi', () => ({
  adminApi: {
    reports: (q: { status?: string }) => reports(q),
    resolve: (id: string, status: string, note: string) => resolve(id, status, note),
  },
}));

const { ReportsPage, REFRESH_MS } = await import('./ReportsPage');

function report(over: Partial<Report>): Report {
  return {
    id: 'r1',
    status: 'open',
    reason: 'Spam',
    reporter_id: 'u1',
    reporter_name: 'Bea Buyer',
    reported_user_id: 'u2',
    reported_name: 'Diego Agent',
    reported_role: 'agent',
    conversation_id: null,
    message_id: null,
    message_excerpt: null,
    created_at: '2026-12-01T09:00:00Z',
    resolved_by: null,
    resolved_at: null,
    resolution_note: null,
    ...over,
  };
}

beforeEach(() => {
  locale.set('en');
  history.replaceState(null, '', '/reports');
  route.set({ path: '/reports', query: new URLSearchParams() });
});
afterEach(() => {
  vi.useRealTimers();
  vi.clearAllMocks();
});

describe('ReportsPage', () => {
  it('lists open reports with the excerpt and closes one with an outcome and a note', async () => {
    reports.mockResolvedValue([report({ message_excerpt: 'buy now!!!' })]);
    resolve.mockImplementation(async (id, status, note) => report({ id, status, resolution_note: note, resolved_by: 'me', resolved_at: '2026-12-01T10:00:00Z' }));
    render(<ReportsPage userId="me" />);
    await screen.findByText('Spam');
    expect(reports).toHaveBeenCalledWith({ status: 'open', limit: 50 });
    expect(screen.getByText('buy now!!!')).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Resolve the report about Diego Agent' }));
    const dialog = screen.getByRole('dialog', { hidden: true });
    fireEvent.click(within(dialog).getByLabelText(/Dismissed/));
    fireEvent.change(within(dialog).getByLabelText('Note for the other operators'), { target: { value: '  a misunderstanding ' } });
    await act(async () => {
      fireEvent.click(within(dialog).getByRole('button', { name: 'Close report', hidden: true }));
    });
    expect(resolve).toHaveBeenCalledWith('r1', 'dismissed', '  a misunderstanding ');
    expect(await screen.findByText('No open reports. All clear.')).toBeTruthy();
  });

  it('refreshes the queue quietly while visible', async () => {
    vi.useFakeTimers();
    reports.mockResolvedValueOnce([report({})]);
    render(<ReportsPage userId="me" />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(screen.getByText('Spam')).toBeTruthy();
    reports.mockResolvedValueOnce([report({ id: 'r2', reason: 'Insults' }), report({})]);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(REFRESH_MS + 10);
    });
    expect(screen.getByText('Insults')).toBeTruthy();
    expect(screen.getAllByRole('row')).toHaveLength(3);
  });
});
