import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { locale } from '../../i18n';
import { route } from '../../router';
import { ApiError } from '../../api/problem';
import type { AuditQuery, AuditRow } from './adminApi';
import type { AdminLink } from './fleet';

vi.mock('../../realtime/socket', () => ({ on: () => () => {} }));

const audit = vi.fn<(q: AuditQuery) => Promise<AuditRow[]>>();
const links = vi.fn<(stats?: boolean) => Promise<AdminLink[]>>();
vi.mock('./adminApi', () => ({
  adminApi: { audit: (q: AuditQuery) => audit(q), links: (s?: boolean) => links(s) },
}));

const { AuditPage, PAGE } = await import('./AuditPage');

const OP = { id: 'op-1', role: 'operator', display_name: 'Olga', email: 'olga@puente.example', active: true, created_at: '' } as never;

function row(id: number, over: Partial<AuditRow> = {}): AuditRow {
  return {
    id,
    actor_user_id: 'u-ana',
    actor_role: 'operator',
    action: 'link.restart',
    target_type: 'whatsapp_link',
    target_id: `L-${id}`,
    result: 'ok',
    detail: {},
    ip: null,
    created_at: '2026-12-01T10:00:00Z',
    ...over,
  };
}

/** `n` rows, newest (highest id) first, from `top` down. */
const rows = (top: number, n: number, over: Partial<AuditRow> = {}) => Array.from({ length: n }, (_, i) => row(top - i, over));

function at(path: string) {
  history.replaceState(null, '', path);
  const u = new URL(path, 'http://x');
  route.set({ path: u.pathname, query: u.searchParams });
}

const search = () => new URLSearchParams(location.search);
const shownIds = () =>
  screen
    .getAllByRole('row')
    .slice(1)
    .map((r) => within(r).getAllByRole('cell')[3]?.textContent ?? '');

beforeEach(() => {
  locale.set('en');
  at('/audit');
  links.mockResolvedValue([]);
});
afterEach(() => vi.clearAllMocks());

describe('AuditPage', () => {
  it('asks the server for the filters in the address', async () => {
    at('/audit?action=link.&result=error&target=L-7&actor=ana&from=2026-12-01T09:00');
    audit.mockResolvedValue([row(7, { result: 'error' })]);
    render(<AuditPage user={OP} />);
    await screen.findByText('Error', { selector: '.tag' });
    expect(audit).toHaveBeenCalledTimes(1);
    expect(audit).toHaveBeenCalledWith({
      action: 'link.',
      result: 'error',
      target_id: 'L-7',
      actor: 'ana',
      from: new Date('2026-12-01T09:00').toISOString(),
      limit: PAGE,
    });
    expect((screen.getByLabelText('Action') as HTMLSelectElement).value).toBe('link.');
    expect((screen.getByLabelText('Result') as HTMLSelectElement).value).toBe('error');
    expect((screen.getByLabelText('Target id') as HTMLInputElement).value).toBe('L-7');
    expect(screen.getByText('Entries matching the filters: 1 loaded.')).toBeTruthy();
  });

  it('replaces the list when a filter changes, keeping it in the address', async () => {
    audit.mockResolvedValueOnce([row(2), row(1, { result: 'error', target_id: 'L-bad' })]);
    render(<AuditPage user={OP} />);
    await screen.findByText('L-2');
    expect(audit).toHaveBeenLastCalledWith({ limit: PAGE });

    audit.mockResolvedValueOnce([row(1, { result: 'error', target_id: 'L-bad' })]);
    fireEvent.change(screen.getByLabelText('Result'), { target: { value: 'error' } });
    expect(search().get('result')).toBe('error');
    await screen.findByText('Entries matching the filters: 1 loaded.');
    expect(audit).toHaveBeenLastCalledWith({ result: 'error', limit: PAGE });
    expect(screen.queryByText('L-2')).toBeNull();
    expect(shownIds()).toEqual([expect.stringContaining('L-bad')]);

    // Text filters apply on Enter (not at every key).
    audit.mockResolvedValueOnce([]);
    const actor = screen.getByLabelText('Actor');
    fireEvent.change(actor, { target: { value: ' nobody@x ' } });
    expect(audit).toHaveBeenCalledTimes(2);
    fireEvent.keyDown(actor, { key: 'Enter' });
    expect(search().get('actor')).toBe('nobody@x');
    await screen.findByText('No entry matches these filters');
    expect(audit).toHaveBeenLastCalledWith({ result: 'error', actor: 'nobody@x', limit: PAGE });

    // Clearing brings back the whole log.
    audit.mockResolvedValueOnce([row(2), row(1)]);
    fireEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(location.search).toBe('');
    await screen.findByText('2 entries loaded.');
    expect(audit).toHaveBeenLastCalledWith({ limit: PAGE });
    expect((screen.getByLabelText('Actor') as HTMLInputElement).value).toBe('');
  });

  it('loads more with the same filters from the last id shown', async () => {
    at('/audit?action=link.restart');
    audit.mockResolvedValueOnce(rows(500, PAGE));
    render(<AuditPage user={OP} />);
    await screen.findByText(`Entries matching the filters: ${PAGE} loaded.`);
    audit.mockResolvedValueOnce(rows(300, 3));
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await screen.findByText(`Entries matching the filters: ${PAGE + 3} loaded.`);
    expect(audit).toHaveBeenLastCalledWith({ action: 'link.restart', limit: PAGE, before: 500 - PAGE + 1 });
    expect(screen.getByText('This is the start of the log.')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('drops a page that answers filters no longer shown', async () => {
    audit.mockResolvedValueOnce(rows(500, PAGE));
    render(<AuditPage user={OP} />);
    await screen.findByText(`${PAGE} entries loaded.`);
    let answerOld: (r: AuditRow[]) => void = () => {};
    audit.mockImplementationOnce(() => new Promise((res) => (answerOld = res)));
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    audit.mockResolvedValueOnce([row(9, { result: 'error' })]);
    fireEvent.change(screen.getByLabelText('Result'), { target: { value: 'error' } });
    await screen.findByText('Entries matching the filters: 1 loaded.');
    await act(async () => answerOld(rows(400, 5)));
    expect(screen.getByText('Entries matching the filters: 1 loaded.')).toBeTruthy();
    expect(shownIds()).toHaveLength(1);
  });

  it('filters to an actor or a target from a row', async () => {
    audit.mockResolvedValueOnce([row(3), row(2, { actor_user_id: null, actor_role: null, target_type: 'report', target_id: 'R-1' })]);
    render(<AuditPage user={OP} />);
    await screen.findByText('2 entries loaded.');
    audit.mockResolvedValue([row(2, { actor_user_id: null, actor_role: null })]);
    fireEvent.click(screen.getByRole('button', { name: 'Show only entries by System' }));
    expect(search().get('actor')).toBe('system');
    await screen.findByText('Entries matching the filters: 1 loaded.');
    expect(audit).toHaveBeenLastCalledWith({ actor: 'system', limit: PAGE });
    fireEvent.click(screen.getByRole('button', { name: 'Show only entries about L-2' }));
    expect(search().get('target')).toBe('L-2');
    expect(audit).toHaveBeenLastCalledWith({ actor: 'system', target_id: 'L-2', limit: PAGE });
  });

  it('names the filters the server refused', async () => {
    at(`/audit?actor=${'a'.repeat(300)}&result=ok`);
    audit.mockRejectedValueOnce(
      new ApiError({ status: 422, code: 'validation_failed', detail: 'One or more fields are invalid.', errors: [{ field: 'actor', message: 'must be at most 254 characters' }] }),
    );
    render(<AuditPage user={OP} />);
    await screen.findByText('Check these filters: Actor.');
    expect(screen.getByLabelText('Actor').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByLabelText('Target id').getAttribute('aria-invalid')).toBeNull();
    audit.mockResolvedValueOnce([]);
    fireEvent.change(screen.getByLabelText('Actor'), { target: { value: 'ana' } });
    fireEvent.blur(screen.getByLabelText('Actor'));
    await screen.findByText('No entry matches these filters');
    expect(audit).toHaveBeenLastCalledWith({ actor: 'ana', result: 'ok', limit: PAGE });
    expect(screen.queryByText(/Check these filters/)).toBeNull();
  });
});
