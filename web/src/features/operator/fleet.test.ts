import { describe, expect, it, beforeEach } from 'vitest';
import { locale } from '../../i18n';
import {
  agenciesOf,
  applyStatus,
  filterLinks,
  formatCpu,
  formatMemory,
  formatUptime,
  memoryFraction,
  mergeLogLines,
  nextSort,
  reuseUnchanged,
  sortLinks,
  summarize,
  type AdminLink,
} from './fleet';
import { actionChoices, auditQuery, auditSearch, detailText, groupAudit, NO_AUDIT_FILTER, readAuditQuery } from './AuditPage';
import { cleanLine, lineLevel, mergeEntries } from './LogViewer';
import type { AuditRow } from './adminApi';

let n = 0;
export function link(over: Partial<AdminLink> = {}): AdminLink {
  n++;
  return {
    id: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`,
    agent_id: `a-${n}`,
    agent_email: `agent${n}@example.com`,
    agent_name: `Agent ${n}`,
    agency_id: 'ag-1',
    agency_name: 'Costa Homes',
    status: 'working',
    status_reason: null,
    desired_state: 'running',
    phone: null,
    engine: 'NOWEB',
    image: 'puente/waha-emulator:dev',
    container_id: 'abc',
    container_name: `puente-waha-${n}`,
    container_state: 'running',
    started_at: null,
    uptime_secs: 60,
    restart_count: 0,
    docker_restart_count: 0,
    cpu_percent: 1,
    memory_used_bytes: 1000,
    memory_limit_bytes: 4000,
    last_event_at: null,
    created_at: '2026-12-01T09:00:00Z',
    ...over,
  };
}

beforeEach(() => locale.set('en'));

describe('sorting', () => {
  const a = link({ agent_name: 'Zoe', status: 'working', uptime_secs: 10, cpu_percent: 5, memory_used_bytes: 300, restart_count: 1 });
  const b = link({ agent_name: 'ana', status: 'failed', uptime_secs: null, cpu_percent: null, memory_used_bytes: null, restart_count: 0, docker_restart_count: 4 });
  const c = link({ agent_name: 'Marta', status: 'scan_qr', uptime_secs: 500, cpu_percent: 0.5, memory_used_bytes: 900 });

  it('sorts by name case-insensitively, both ways', () => {
    expect(sortLinks([a, b, c], { key: 'agent', dir: 'asc' }).map((l) => l.agent_name)).toEqual(['ana', 'Marta', 'Zoe']);
    expect(sortLinks([a, b, c], { key: 'agent', dir: 'desc' }).map((l) => l.agent_name)).toEqual(['Zoe', 'Marta', 'ana']);
  });

  it('puts what needs attention first when sorting by status', () => {
    expect(sortLinks([a, b, c], { key: 'status', dir: 'asc' }).map((l) => l.status)).toEqual(['failed', 'scan_qr', 'working']);
  });

  it('keeps unknown figures last in either direction', () => {
    expect(sortLinks([a, b, c], { key: 'uptime', dir: 'desc' }).map((l) => l.agent_name)).toEqual(['Marta', 'Zoe', 'ana']);
    expect(sortLinks([a, b, c], { key: 'uptime', dir: 'asc' }).map((l) => l.agent_name)).toEqual(['Zoe', 'Marta', 'ana']);
    expect(sortLinks([a, b, c], { key: 'memory', dir: 'asc' }).at(-1)).toBe(b);
  });

  it('counts restarts by Puente and by Docker together', () => {
    expect(sortLinks([a, b, c], { key: 'restarts', dir: 'desc' })[0]).toBe(b);
  });

  it('does not mutate its input', () => {
    const list = [a, b, c];
    sortLinks(list, { key: 'agent', dir: 'asc' });
    expect(list).toEqual([a, b, c]);
  });

  it('flips direction on the same header, starts figures descending', () => {
    expect(nextSort({ key: 'agent', dir: 'asc' }, 'agent')).toEqual({ key: 'agent', dir: 'desc' });
    expect(nextSort({ key: 'agent', dir: 'asc' }, 'cpu')).toEqual({ key: 'cpu', dir: 'desc' });
    expect(nextSort({ key: 'cpu', dir: 'desc' }, 'agency')).toEqual({ key: 'agency', dir: 'asc' });
  });
});

describe('filtering and counting', () => {
  const w = link({ agent_name: 'Diego Agent', agent_email: 'diego@costa.example', phone: '34600000001', status: 'working' });
  const s = link({ agent_name: 'Sara', status: 'starting', agency_id: 'ag-2', agency_name: 'Bravo' });
  const p = link({ agent_name: 'Pablo', status: 'provisioning' });
  const f = link({ agent_name: 'Fina', status: 'failed', status_reason: 'qr_expired' });
  const st = link({ agent_name: 'Sto', status: 'stopped' });
  const q = link({ agent_name: 'Quique', status: 'scan_qr' });
  const all = [w, s, p, f, st, q];

  it('filters by status; starting includes provisioning', () => {
    expect(filterLinks(all, { status: 'failed', agency: '', text: '' })).toEqual([f]);
    expect(filterLinks(all, { status: 'starting', agency: '', text: '' })).toEqual([s, p]);
  });

  it('filters by agency', () => {
    expect(filterLinks(all, { status: '', agency: 'ag-2', text: '' })).toEqual([s]);
  });

  it('searches names, emails and phone digits however they are typed', () => {
    expect(filterLinks(all, { status: '', agency: '', text: 'diego' })).toEqual([w]);
    expect(filterLinks(all, { status: '', agency: '', text: 'COSTA.example' })).toEqual([w]);
    expect(filterLinks(all, { status: '', agency: '', text: '+34 600 000' })).toEqual([w]);
    expect(filterLinks(all, { status: '', agency: '', text: 'nobody' })).toEqual([]);
  });

  it('summarizes by status', () => {
    expect(summarize(all)).toEqual({ total: 6, working: 1, scanning: 1, starting: 2, failed: 1, stopped: 1 });
  });

  it('lists agencies once, by name', () => {
    expect(agenciesOf(all)).toEqual([
      { id: 'ag-2', name: 'Bravo' },
      { id: 'ag-1', name: 'Costa Homes' },
    ]);
  });
});

describe('link.status frames', () => {
  it('updates the status, reason and phone of a known link', () => {
    const l = link({ status: 'working' });
    const r = applyStatus([l], { link_id: l.id, status: 'starting', reason: null, phone: '3461' });
    expect(r.unknown).toBe(false);
    expect(r.links[0]).toMatchObject({ status: 'starting', status_reason: null, phone: '3461' });
    expect(l.status).toBe('working');
  });

  it('drops a deleted link and flags unknown ones', () => {
    const l = link();
    expect(applyStatus([l], { link_id: l.id, status: 'stopped', reason: 'deleted' }).links).toEqual([]);
    expect(applyStatus([l], { link_id: 'other', status: 'working' }).unknown).toBe(true);
  });
});

describe('polls', () => {
  it('keep the objects of unchanged links, and the whole list when nothing changed', () => {
    const a = link();
    const b = link({ status: 'failed' });
    const shown = [a, b];
    const same = reuseUnchanged(shown, [{ ...a }, { ...b }]);
    expect(same).toBe(shown);
    const next = reuseUnchanged(shown, [{ ...a }, { ...b, uptime_secs: 65 }]);
    expect(next).not.toBe(shown);
    expect(next[0]).toBe(a);
    expect(next[1]).not.toBe(b);
    expect(next[1]?.uptime_secs).toBe(65);
    // a new link and a changed order make a new list; known links keep their objects
    const c = link();
    const grown = reuseUnchanged(shown, [{ ...b }, { ...a }, c]);
    expect(grown).toEqual([b, a, c]);
    expect(grown[0]).toBe(b);
    expect(reuseUnchanged(null, [c])).toEqual([c]);
  });
});

describe('usage formatting', () => {
  it('formats memory in binary units', () => {
    expect(formatMemory(512)).toBe('512 B');
    expect(formatMemory(2048)).toBe('2 KiB');
    expect(formatMemory(90.5 * 1024 * 1024)).toBe('90.5 MiB');
    expect(formatMemory(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatMemory(null)).toBe('—');
  });

  it('uses the locale’s decimal separator', () => {
    locale.set('es');
    expect(formatMemory(1.5 * 1024 ** 3)).toBe('1,5 GiB');
    expect(formatCpu(12.25)).toBe('12,3 %');
  });

  it('formats CPU with sensible precision', () => {
    expect(formatCpu(0.421)).toBe('0.42 %');
    expect(formatCpu(112.4)).toBe('112 %');
    expect(formatCpu(undefined)).toBe('—');
  });

  it('computes memory against its limit', () => {
    expect(memoryFraction(1, 4)).toBe(0.25);
    expect(memoryFraction(8, 4)).toBe(1);
    expect(memoryFraction(100, null)).toBeNull();
    expect(memoryFraction(null, 100)).toBeNull();
  });

  it('formats uptime', () => {
    expect(formatUptime(12)).toBe('12s');
    expect(formatUptime(245)).toBe('4m 05s');
    expect(formatUptime(7500)).toBe('2h 05m');
    expect(formatUptime(3 * 86400 + 4 * 3600)).toBe('3d 4h');
    expect(formatUptime(null)).toBe('—');
  });
});

describe('log lines', () => {
  it('drops the overlap between what is shown and a poll', () => {
    expect(mergeLogLines(['a', 'b', 'c'], ['b', 'c', 'd'])).toEqual({ lines: ['a', 'b', 'c', 'd'], added: 1 });
    expect(mergeLogLines(['a', 'b'], ['x', 'y'])).toEqual({ lines: ['a', 'b', 'x', 'y'], added: 2 });
    expect(mergeLogLines(['a', 'b'], ['a', 'b'])).toEqual({ lines: ['a', 'b'], added: 0 });
    expect(mergeLogLines([], ['a'])).toEqual({ lines: ['a'], added: 1 });
  });

  it('keeps the newest lines under the cap', () => {
    expect(mergeLogLines(['1', '2', '3'], ['4', '5'], 3).lines).toEqual(['3', '4', '5']);
  });

  it('merges entries with their times, exactly after a cursor and without overlap otherwise', () => {
    const e = (text: string, at: string | null = null) => ({ text, at });
    expect(mergeEntries([e('a', '1'), e('b', '2')], [e('b', '2'), e('c', '3')], false)).toEqual({ lines: [e('a', '1'), e('b', '2'), e('c', '3')], added: 1 });
    expect(mergeEntries([e('a'), e('b')], [e('b'), e('c')], true).lines.map((x) => x.text)).toEqual(['a', 'b', 'b', 'c']);
    expect(mergeEntries([e('a'), e('b')], [e('c')], true, 2).lines.map((x) => x.text)).toEqual(['b', 'c']);
  });

  it('strips terminal colours and spots levels', () => {
    expect(cleanLine('\x1b[32minfo\x1b[39m started\r')).toBe('info started');
    expect(lineLevel('[ERROR] boom')).toBe('error');
    expect(lineLevel('WARN slow')).toBe('warn');
    expect(lineLevel('all good')).toBeNull();
  });
});

describe('audit filters', () => {
  const row = (over: Partial<AuditRow>): AuditRow => ({
    id: 1,
    actor_user_id: 'u1',
    actor_role: 'operator',
    action: 'link.restart',
    target_type: 'whatsapp_link',
    target_id: 'L-123',
    result: 'ok',
    detail: {},
    ip: '127.0.0.1',
    created_at: '2026-12-01T10:00:00Z',
    ...over,
  });
  it('reads the filters from the address and asks the server for them in its terms', () => {
    const q = new URLSearchParams('actor=ana&action=link.&target=L-123&result=error&from=2026-12-01T09:00&to=2026-12-01T10:30&junk=1');
    const f = readAuditQuery(q);
    expect(f).toEqual({ actor: 'ana', action: 'link.', target: 'L-123', result: 'error', from: '2026-12-01T09:00', to: '2026-12-01T10:30' });
    expect(auditSearch(f)).toBe('actor=ana&action=link.&target=L-123&result=error&from=2026-12-01T09%3A00&to=2026-12-01T10%3A30');
    // Local times become UTC instants; "to" a minute includes that minute.
    expect(auditQuery(f)).toEqual({
      actor: 'ana',
      action: 'link.',
      target_id: 'L-123',
      result: 'error',
      from: new Date('2026-12-01T09:00').toISOString(),
      to: new Date(new Date('2026-12-01T10:30').getTime() + 60_000).toISOString(),
    });
    expect(auditQuery(NO_AUDIT_FILTER)).toEqual({});
    // What the page could not have written is dropped.
    expect(readAuditQuery(new URLSearchParams('result=maybe&from=yesterday'))).toEqual(NO_AUDIT_FILTER);
    expect(auditSearch(NO_AUDIT_FILTER)).toBe('');
  });

  it('offers every known action and each family of them', () => {
    const c = actionChoices('');
    expect(c.find((x) => x.value === 'link.')).toEqual({ value: 'link.', prefix: true });
    expect(c.find((x) => x.value === 'link.restart')).toEqual({ value: 'link.restart', prefix: false });
    expect(c.findIndex((x) => x.value === 'link.')).toBeLessThan(c.findIndex((x) => x.value === 'link.restart'));
    // An action from the address the console has no words for is still offered.
    expect(actionChoices('node.drain')[0]).toEqual({ value: 'node.drain', prefix: false });
  });

  it('shows detail as key: value', () => {
    expect(detailText({ tail: 200, since: null })).toBe('tail: 200');
    expect(detailText({ replayed: 3, since: '2026' })).toBe('replayed: 3, since: 2026');
    expect(detailText({ reported_user_id: '01a230ea-c1da-7443-b7b7-81fbcb9dc07f', with_note: true })).toBe('reported_user_id: 01a230ea, with_note: true');
    expect(detailText({ since: 1796117364 })).toMatch(/^since: .*2026/);
    expect(detailText(null)).toBe('');
  });

  it('folds bursts of log reads by the same actor on the same link', () => {
    const logs = [
      row({ id: 10, action: 'link.logs', created_at: '2026-12-01T10:06:00Z' }),
      row({ id: 9, action: 'link.logs', created_at: '2026-12-01T10:03:00Z' }),
      row({ id: 8, action: 'link.logs', created_at: '2026-12-01T10:00:00Z' }),
      row({ id: 7, action: 'link.restart', created_at: '2026-12-01T09:59:00Z' }),
      row({ id: 6, action: 'link.logs', target_id: 'other', created_at: '2026-12-01T09:58:00Z' }),
      row({ id: 5, action: 'link.restart', created_at: '2026-12-01T09:57:00Z' }),
      row({ id: 4, action: 'link.restart', created_at: '2026-12-01T09:56:00Z' }),
    ];
    const g = groupAudit(logs);
    expect(g.map((x) => [x.row.id, x.count])).toEqual([[10, 3], [7, 1], [6, 1], [5, 1], [4, 1]]);
    expect(g[0]?.oldest).toBe('2026-12-01T10:00:00Z');
  });
});
