// The fleet's pure logic: sorting, filtering and counting links, applying `link.status`
// frames, merging polled log lines, and formatting usage figures. No React, no fetches —
// everything here is tested in fleet.test.ts.
import type { Schemas } from '../../api/client';
import { locale } from '../../i18n';

export type AdminLink = Schemas['AdminLink'];
export type LinkStatus = Schemas['LinkStatus'];

export const STATUSES: LinkStatus[] = ['working', 'scan_qr', 'starting', 'provisioning', 'failed', 'stopped'];

export type SortKey = 'agent' | 'agency' | 'status' | 'uptime' | 'restarts' | 'cpu' | 'memory' | 'container' | 'engine';
export type SortDir = 'asc' | 'desc';
export interface Sort {
  key: SortKey;
  dir: SortDir;
}

/** Failures first when sorting by status ascending: what needs attention comes first. */
const STATUS_RANK: Record<LinkStatus, number> = { failed: 0, stopped: 1, scan_qr: 2, provisioning: 3, starting: 4, working: 5 };

/** The sortable value of a link for a column; `null` always sorts last. */
export function sortValue(l: AdminLink, key: SortKey): string | number | null {
  switch (key) {
    case 'agent':
      return (l.agent_name || l.agent_email).toLocaleLowerCase();
    case 'agency':
      return l.agency_name.toLocaleLowerCase();
    case 'status':
      return STATUS_RANK[l.status] ?? 9;
    case 'uptime':
      return l.uptime_secs ?? null;
    case 'restarts':
      return l.restart_count + l.docker_restart_count;
    case 'cpu':
      return l.cpu_percent ?? null;
    case 'memory':
      return l.memory_used_bytes ?? null;
    case 'container':
      return l.container_state;
    case 'engine':
      return l.engine.toLocaleLowerCase();
  }
}

const collator = new Intl.Collator();

export function sortLinks(links: readonly AdminLink[], sort: Sort): AdminLink[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  // Keys computed once per link, compared with one collator: 10,000 links sort in a few ms.
  return links
    .map((l, i) => ({ l, i, v: sortValue(l, sort.key), name: (l.agent_name || '').toLocaleLowerCase() }))
    .sort((a, b) => {
      if (a.v === null && b.v === null) return a.i - b.i;
      if (a.v === null) return 1;
      if (b.v === null) return -1;
      let c: number;
      if (typeof a.v === 'number' && typeof b.v === 'number') c = a.v - b.v;
      else c = collator.compare(String(a.v), String(b.v));
      if (c === 0) {
        // Stable, readable tie-break: by agent name, then original order.
        return collator.compare(a.name, b.name) || a.i - b.i;
      }
      return c * sign;
    })
    .map((x) => x.l);
}

/** Clicking a header: the same column flips direction; a new column starts with its natural one. */
export function nextSort(current: Sort, key: SortKey): Sort {
  if (current.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  const numericDesc: SortKey[] = ['uptime', 'restarts', 'cpu', 'memory'];
  return { key, dir: numericDesc.includes(key) ? 'desc' : 'asc' };
}

export interface Filter {
  /** '' for all; 'starting' also covers 'provisioning'. */
  status: '' | LinkStatus;
  /** Agency id, or '' for all. */
  agency: string;
  /** Free text over the agent's name and email and the phone number. */
  text: string;
}

export const NO_FILTER: Filter = { status: '', agency: '', text: '' };

export function matchesStatus(s: LinkStatus, want: Filter['status']): boolean {
  if (!want) return true;
  if (want === 'starting') return s === 'starting' || s === 'provisioning';
  return s === want;
}

export function filterLinks(links: readonly AdminLink[], f: Filter): AdminLink[] {
  const q = f.text.trim().toLocaleLowerCase();
  const digits = q.replace(/[\s+()-]/g, '');
  const phoneQuery = /^\d+$/.test(digits) ? digits : null;
  return links.filter((l) => {
    if (!matchesStatus(l.status, f.status)) return false;
    if (f.agency && l.agency_id !== f.agency) return false;
    if (!q) return true;
    if (l.agent_name.toLocaleLowerCase().includes(q)) return true;
    if (l.agent_email.toLocaleLowerCase().includes(q)) return true;
    const phone = (l.phone ?? '').replace(/\D/g, '');
    if (phoneQuery && phone.includes(phoneQuery)) return true;
    return false;
  });
}

export interface Summary {
  total: number;
  working: number;
  scanning: number;
  starting: number;
  failed: number;
  stopped: number;
}

export function summarize(links: readonly AdminLink[]): Summary {
  const s: Summary = { total: links.length, working: 0, scanning: 0, starting: 0, failed: 0, stopped: 0 };
  for (const l of links) {
    if (l.status === 'working') s.working++;
    else if (l.status === 'scan_qr') s.scanning++;
    else if (l.status === 'starting' || l.status === 'provisioning') s.starting++;
    else if (l.status === 'failed') s.failed++;
    else if (l.status === 'stopped') s.stopped++;
  }
  return s;
}

/** The agencies that own links, by name, for the agency filter. */
export function agenciesOf(links: readonly AdminLink[]): { id: string; name: string }[] {
  const seen = new Map<string, string>();
  for (const l of links) seen.set(l.agency_id, l.agency_name);
  return [...seen].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The payload of a `link.status` frame (src/links/service.rs `publish_status`). */
export interface LinkStatusFrame {
  link_id: string;
  status: LinkStatus;
  reason?: string | null;
  phone?: string | null;
}

/**
 * Apply a `link.status` frame. A deleted link (reason `deleted`) leaves the list; a link we do
 * not know yet is reported as `unknown` so the caller reloads.
 */
export function applyStatus(links: readonly AdminLink[], f: LinkStatusFrame): { links: AdminLink[]; unknown: boolean } {
  if (f.reason === 'deleted') return { links: links.filter((l) => l.id !== f.link_id), unknown: false };
  let found = false;
  const next = links.map((l) => {
    if (l.id !== f.link_id) return l;
    found = true;
    const changed: AdminLink = { ...l, status: f.status, status_reason: f.reason ?? null };
    if (f.phone !== undefined) changed.phone = f.phone;
    return changed;
  });
  return { links: found ? next : [...links], unknown: !found };
}

/**
 * A fresh poll's list with every link that did not change replaced by the object already
 * shown, and the previous array itself when nothing changed at all: memoised rows (and the
 * sorted, filtered view) then skip the links a poll brought back unchanged.
 */
export function reuseUnchanged(prev: readonly AdminLink[] | null, next: AdminLink[]): AdminLink[] {
  if (!prev) return next;
  const byId = new Map(prev.map((l) => [l.id, l]));
  let same = prev.length === next.length;
  const out = next.map((l, i) => {
    const old = byId.get(l.id);
    const keep = old !== undefined && sameLink(old, l) ? old : l;
    if (keep !== prev[i]) same = false;
    return keep;
  });
  return same ? (prev as AdminLink[]) : out;
}

function sameLink(a: AdminLink, b: AdminLink): boolean {
  const ka = Object.keys(a) as (keyof AdminLink)[];
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.is(a[k], b[k]));
}

/** Tone of a status tag. */
export function statusTone(s: LinkStatus): 'ok' | 'warn' | 'bad' | 'idle' {
  if (s === 'working') return 'ok';
  if (s === 'failed') return 'bad';
  if (s === 'stopped') return 'idle';
  return 'warn';
}

/** Tone of a container state. */
export function containerTone(state: string): 'ok' | 'warn' | 'bad' | 'idle' {
  if (state === 'running') return 'ok';
  if (state === 'restarting' || state === 'created' || state === 'removing' || state === 'paused') return 'warn';
  if (state === 'dead' || state === 'unknown') return 'bad';
  return 'idle';
}

// ---- usage figures -------------------------------------------------------------------------

const nf = (max: number) => new Intl.NumberFormat(locale.get() === 'es' ? 'es-ES' : 'en-GB', { maximumFractionDigits: max, minimumFractionDigits: 0 });

/** Memory as Docker shows it (binary units): "512 KiB", "86.4 MiB", "1.5 GiB". */
export function formatMemory(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${nf(digits).format(v)} ${units[u]}`;
}

/** CPU as a percentage of one core ("0.42 %", "112 %"). */
export function formatCpu(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  const digits = p < 10 ? 2 : p < 100 ? 1 : 0;
  return `${nf(digits).format(p)} %`;
}

/** Used / limit as a fraction 0..1, or null when either is unknown. */
export function memoryFraction(used: number | null | undefined, limit: number | null | undefined): number | null {
  if (!used || !limit || limit <= 0) return used === 0 && limit ? 0 : null;
  return Math.min(1, used / limit);
}

/** "10:24:07" — for "updated at" stamps that change every few seconds. */
export function formatClock(d: Date): string {
  return d.toLocaleTimeString(locale.get() === 'es' ? 'es-ES' : 'en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "3d 4h", "2h 05m", "4m 10s", "12s". */
export function formatUptime(secs: number | null | undefined): string {
  if (secs === null || secs === undefined) return '—';
  const s = Math.max(0, Math.floor(secs));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

// ---- logs ----------------------------------------------------------------------------------

/**
 * Append freshly polled lines to what is shown. Polls ask for lines since a second before the
 * previous poll (Docker's `since` has one-second resolution and no line ids), so the start of
 * `incoming` usually repeats the end of `shown`: the longest such overlap is dropped. At most
 * `cap` lines are kept (the newest).
 */
export function mergeLogLines(shown: readonly string[], incoming: readonly string[], cap = 5000): { lines: string[]; added: number } {
  if (incoming.length === 0) return { lines: shown.length > cap ? shown.slice(-cap) : [...shown], added: 0 };
  const max = Math.min(shown.length, incoming.length);
  let overlap = 0;
  for (let k = max; k > 0; k--) {
    let same = true;
    for (let i = 0; i < k; i++) {
      if (shown[shown.length - k + i] !== incoming[i]) {
        same = false;
        break;
      }
    }
    if (same) {
      overlap = k;
      break;
    }
  }
  const out = shown.concat(incoming.slice(overlap));
  return { lines: out.length > cap ? out.slice(-cap) : out, added: incoming.length - overlap };
}

/** Append lines known to be new (a cursor-based poll), keeping at most `cap`. */
export function appendLines(shown: readonly string[], incoming: readonly string[], cap = 5000): { lines: string[]; added: number } {
  const out = incoming.length ? shown.concat(incoming) : [...shown];
  return { lines: out.length > cap ? out.slice(-cap) : out, added: incoming.length };
}
