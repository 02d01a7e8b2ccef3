// `/fleet`: every link's session container, live. Counts on top (each one a filter), filters
// by status, agency and text, a table sortable by every column (cards on a phone), windowed
// for fleets of thousands. Filters and sorting live in the address, so going to a link and
// back keeps them.
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Link, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { problemMessage } from '../../api/problem';
import { Confirm, Empty, ErrorText, Spinner } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { useVirtualRows } from '../../ui/useVirtualRows';
import { adminApi } from './adminApi';
import { m, type Key } from './messages';
import { rememberFleetSearch, useFleet, refreshFleet } from './fleetStore';
import {
  STATUSES,
  agenciesOf,
  filterLinks,
  formatClock,
  formatCpu,
  formatUptime,
  nextSort,
  sortLinks,
  summarize,
  type AdminLink,
  type Filter,
  type LinkStatus,
  type Sort,
  type SortKey,
} from './fleet';
import { Cell, ContainerTag, MemoryFigure, StatusTag, plural, statusLabel } from './parts';

const SORT_KEYS: SortKey[] = ['agent', 'agency', 'status', 'uptime', 'restarts', 'cpu', 'memory', 'container', 'engine'];
const COL_LABEL: Record<SortKey, Key> = {
  agent: 'colAgent',
  agency: 'colAgency',
  status: 'colStatus',
  uptime: 'colUptime',
  restarts: 'colRestarts',
  cpu: 'colCpu',
  memory: 'colMemory',
  container: 'colContainer',
  engine: 'colEngine',
};

export function readFleetQuery(q: URLSearchParams): { filter: Filter; sort: Sort } {
  const status = q.get('status') ?? '';
  const key = q.get('sort') as SortKey | null;
  return {
    filter: {
      status: (STATUSES as string[]).includes(status) ? (status as LinkStatus) : '',
      agency: q.get('agency') ?? '',
      text: q.get('q') ?? '',
    },
    sort: {
      key: key && SORT_KEYS.includes(key) ? key : 'status',
      dir: q.get('dir') === 'desc' ? 'desc' : 'asc',
    },
  };
}

function writeFleetQuery(filter: Filter, sort: Sort) {
  const q = new URLSearchParams();
  if (filter.status) q.set('status', filter.status);
  if (filter.agency) q.set('agency', filter.agency);
  if (filter.text) q.set('q', filter.text);
  if (sort.key !== 'status' || sort.dir !== 'asc') {
    q.set('sort', sort.key);
    q.set('dir', sort.dir);
  }
  const s = q.toString();
  navigate(s ? `/fleet?${s}` : '/fleet', { replace: true });
}

export function FleetPage() {
  const t = useT(m);
  const tc = useT(common);
  const fleet = useFleet();
  const { query } = useRoute();
  const { filter, sort } = readFleetQuery(query);
  const search = query.toString();
  useEffect(() => rememberFleetSearch(search), [search]);
  const searchBox = useRef<HTMLInputElement>(null);
  // "/" jumps to the search box, as in most dashboards (not while typing somewhere).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      const el = e.target as HTMLElement | null;
      if (el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName))) return;
      if (document.querySelector('dialog[open]')) return;
      e.preventDefault();
      searchBox.current?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const all = fleet.links;

  const shown = useMemo(() => (all ? sortLinks(filterLinks(all, filter), sort) : []), [all, filter.status, filter.agency, filter.text, sort.key, sort.dir]); // eslint-disable-line react-hooks/exhaustive-deps
  const summary = useMemo(() => summarize(all ?? []), [all]);
  const agencies = useMemo(() => agenciesOf(all ?? []), [all]);

  const setFilter = (f: Partial<Filter>) => writeFleetQuery({ ...filter, ...f }, sort);
  const setSort = (s: Sort) => writeFleetQuery(filter, s);
  const filtered = filter.status !== '' || filter.agency !== '' || filter.text !== '';

  const counts: { key: keyof typeof summary; status: '' | LinkStatus; label: Key; tone: string }[] = [
    { key: 'total', status: '', label: 'sumTotal', tone: 'all' },
    { key: 'working', status: 'working', label: 'sumWorking', tone: 'ok' },
    { key: 'scanning', status: 'scan_qr', label: 'sumScanning', tone: 'warn' },
    { key: 'starting', status: 'starting', label: 'sumStarting', tone: 'warn' },
    { key: 'failed', status: 'failed', label: 'sumFailed', tone: 'bad' },
    { key: 'stopped', status: 'stopped', label: 'sumStopped', tone: 'idle' },
  ];

  return (
    <div className="page op-page">
      <div className="row-between op-head">
        <div>
          <h1>{t('fleetTitle')}</h1>
          <p className="muted op-sub">{t('fleetIntro')}</p>
        </div>
        <p className="muted small op-updated">
          {fleet.loading && all ? t('updating') : fleet.loadedAt ? t('updated', { time: formatClock(new Date(fleet.loadedAt)) }) : ''}
        </p>
      </div>

      <ul className="op-summary" aria-label={t('summaryLabel')}>
        {counts.map((c) => {
          const on = c.status === filter.status && (c.status !== '' || !filtered);
          return (
            <li key={c.key}>
              <button
                type="button"
                className={`op-count op-count-${c.tone}${on ? ' op-count-on' : ''}`}
                aria-pressed={on}
                onClick={() => setFilter({ status: c.status })}
              >
                <span className="op-count-n">{all ? summary[c.key] : '–'}</span>
                <span className="op-count-label">{t(c.label)}</span>
              </button>
            </li>
          );
        })}
      </ul>

      {all && summary.failed > 0 && <RestartFailed links={all.filter((l) => l.status === 'failed')} />}

      <form className="op-filters op-fleet-filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="fleet-q">{t('searchLabel')}</label>
          <input
            ref={searchBox}
            id="fleet-q"
            type="search"
            aria-keyshortcuts="/"
            value={filter.text}
            placeholder={t('searchPlaceholder')}
            onChange={(e) => setFilter({ text: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="fleet-status">{t('filterStatus')}</label>
          <select id="fleet-status" value={filter.status} onChange={(e) => setFilter({ status: e.target.value as LinkStatus | '' })}>
            <option value="">{t('allStatuses')}</option>
            {STATUSES.filter((s) => s !== 'provisioning').map((s) => (
              <option key={s} value={s}>
                {s === 'starting' ? t('sumStarting') : statusLabel(t, s)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="fleet-agency">{t('filterAgency')}</label>
          <select id="fleet-agency" value={filter.agency} onChange={(e) => setFilter({ agency: e.target.value })}>
            <option value="">{t('allAgencies')}</option>
            {agencies.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field op-sort-phone">
          <label htmlFor="fleet-sort">{t('sortLabel')}</label>
          <select
            id="fleet-sort"
            value={`${sort.key}:${sort.dir}`}
            onChange={(e) => {
              const [key, dir] = e.target.value.split(':') as [SortKey, 'asc' | 'desc'];
              setSort({ key, dir });
            }}
          >
            {SORT_KEYS.flatMap((k) =>
              (['asc', 'desc'] as const).map((d) => (
                <option key={`${k}:${d}`} value={`${k}:${d}`}>
                  {t(d === 'asc' ? 'sortAsc' : 'sortDesc', { col: t(COL_LABEL[k]) })}
                </option>
              )),
            )}
          </select>
        </div>
        {filtered && (
          <button type="button" className="btn btn-ghost op-clear" onClick={() => writeFleetQuery({ status: '', agency: '', text: '' }, sort)}>
            {t('clearFilters')}
          </button>
        )}
      </form>

      {fleet.error !== undefined && (
        <div className="row op-error">
          <ErrorText>
            {all ? t('staleData') : t('loadFailed')} {problemMessage(fleet.error)}
          </ErrorText>
          <button type="button" className="btn btn-small" onClick={() => void refreshFleet()}>
            {tc('retry')}
          </button>
        </div>
      )}

      {!all && fleet.error === undefined && (
        <div className="op-center">
          <Spinner />
        </div>
      )}

      {all && all.length === 0 && (
        <Empty title={t('noLinks')}>
          <p>{t('noLinksBody')}</p>
        </Empty>
      )}

      {all && all.length > 0 && (
        <>
          <p className="muted small" aria-live="polite">
            {plural(t, 'shown', all.length, { n: shown.length, total: all.length })}
          </p>
          {shown.length === 0 ? (
            <Empty title={t('noMatch')}>
              <button type="button" className="btn" onClick={() => writeFleetQuery({ status: '', agency: '', text: '' }, sort)}>
                {t('clearFilters')}
              </button>
            </Empty>
          ) : (
            <FleetTable links={shown} sort={sort} onSort={(k) => setSort(nextSort(sort, k))} />
          )}
        </>
      )}
    </div>
  );
}

/** Rows of one pitch, measured (about this tall on a desktop; cards on a phone are taller). */
const ROW_ESTIMATE = 76;

const COLUMNS: { key: SortKey; cls: string }[] = [
  { key: 'agent', cls: 'op-col-agent' },
  { key: 'agency', cls: 'op-col-agency' },
  { key: 'status', cls: 'op-col-status' },
  { key: 'uptime', cls: 'op-col-uptime num' },
  { key: 'restarts', cls: 'op-col-restarts num' },
  { key: 'cpu', cls: 'op-col-cpu num' },
  { key: 'memory', cls: 'op-col-memory' },
  { key: 'container', cls: 'op-col-container' },
  { key: 'engine', cls: 'op-col-engine' },
];

/**
 * The table, windowed: only the rows in view (plus a few) are in the DOM, spacer rows stand in
 * for the others, and `aria-rowcount`/`aria-rowindex` tell assistive technology where a row
 * sits among all of them. One row's link is in the tab order; the arrow keys, Page Up/Down,
 * Home and End move between rows (scrolling the next one into view).
 */
function FleetTable({ links, sort, onSort }: { links: AdminLink[]; sort: Sort; onSort: (k: SortKey) => void }) {
  const t = useT(m);
  const v = useVirtualRows<HTMLTableSectionElement>({ count: links.length, estimate: ROW_ESTIMATE, scroller: 'parent' });
  const r = v.range;
  const [focusId, setFocusId] = useState<string | undefined>(undefined);
  const focusIndex = useMemo(() => (focusId ? links.findIndex((l) => l.id === focusId) : -1), [links, focusId]);
  const tabStop = focusIndex >= r.start && focusIndex < r.end ? focusIndex : r.start;
  const pendingFocus = useRef<number | null>(null);

  // Focus the row the keyboard moved to once it is rendered.
  useLayoutEffect(() => {
    const i = pendingFocus.current;
    if (i === null) return;
    const a = v.ref.current?.querySelector<HTMLElement>(`tr[data-index="${i}"] a`);
    if (a) {
      pendingFocus.current = null;
      a.focus({ preventScroll: true });
    }
  });

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const row = (e.target as HTMLElement).closest<HTMLElement>('tr[data-index]');
    if (!row) return;
    const from = Number(row.dataset.index);
    const page = Math.max(1, Math.floor((window.innerHeight || 600) / v.pitch) - 1);
    const to: Record<string, number> = { ArrowDown: from + 1, ArrowUp: from - 1, PageDown: from + page, PageUp: from - page, Home: 0, End: links.length - 1 };
    const target = to[e.key];
    if (target === undefined) return;
    e.preventDefault();
    const i = Math.max(0, Math.min(links.length - 1, target));
    setFocusId(links[i]?.id);
    pendingFocus.current = i;
    v.scrollToIndex(i);
  };

  const header = ({ key: k, cls }: { key: SortKey; cls: string }) => {
    const active = sort.key === k;
    return (
      <th key={k} scope="col" className={cls} aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
        <button type="button" className="op-sort" onClick={() => onSort(k)}>
          {t(COL_LABEL[k])}
          <span className={`op-sort-arrow${active ? ' on' : ''}`} aria-hidden="true">
            {active ? (sort.dir === 'asc' ? '▲' : '▼') : '↕'}
          </span>
        </button>
      </th>
    );
  };
  return (
    <div className="table-wrap op-table-wrap">
      <table className="table op-fleet" aria-rowcount={links.length + 1} aria-describedby="fleet-keys">
        <caption className="visually-hidden">{t('fleetCaption')}</caption>
        <thead>
          <tr aria-rowindex={1}>{COLUMNS.map(header)}</tr>
        </thead>
        <tbody
          ref={v.ref}
          onKeyDown={onKeyDown}
          onFocus={(e) => {
            const id = (e.target as HTMLElement).closest<HTMLElement>('tr[data-link]')?.dataset.link;
            if (id) setFocusId(id);
          }}
        >
          {r.padTop > 0 && <Spacer height={r.padTop} />}
          {links.slice(r.start, r.end).map((l, i) => (
            <FleetRow key={l.id} link={l} index={r.start + i} tabbable={r.start + i === tabStop} />
          ))}
          {r.padBottom > 0 && <Spacer height={r.padBottom} />}
        </tbody>
      </table>
      <p id="fleet-keys" className="visually-hidden">
        {t('fleetKeys')}
      </p>
    </div>
  );
}

/** Stands in for the rows above or below the window. */
function Spacer({ height }: { height: number }) {
  return (
    <tr className="op-spacer" aria-hidden="true">
      <td colSpan={COLUMNS.length} style={{ height }} />
    </tr>
  );
}

/** One link; rendered again only when its link object changes (a poll keeps unchanged ones). */
const FleetRow = memo(function FleetRow({ link: l, index, tabbable }: { link: AdminLink; index: number; tabbable: boolean }) {
  const t = useT(m);
  // Flash the status cell when it changes after the first render (the key re-mounts it).
  const first = useRef(`${l.status}:${l.status_reason ?? ''}`);
  const flash = first.current !== `${l.status}:${l.status_reason ?? ''}`;
  return (
    <tr
      data-link={l.id}
      data-status={l.status}
      data-index={index}
      data-vrow=""
      aria-rowindex={index + 2}
      className="op-row-link"
      onClick={(e) => {
        // The whole row opens the link (keyboard users have the name's link); not when the
        // click was on a link or while selecting text.
        if ((e.target as HTMLElement).closest('a, button') || window.getSelection()?.toString()) return;
        navigate(`/fleet/${l.id}`);
      }}
    >
      <Cell className="op-agent" label={t('colAgent')}>
        <Link
          to={`/fleet/${l.id}`}
          className="op-agent-name"
          tabIndex={tabbable ? 0 : -1}
          aria-label={t('openLink', { name: l.agent_name || l.agent_email })}
        >
          {l.agent_name || l.agent_email}
        </Link>
        <span className="op-agent-sub muted small">{l.phone ? `+${l.phone.replace(/^\+/, '')}` : t('noPhone')}</span>
        <span className="op-agent-sub muted small">{l.agent_email}</span>
      </Cell>
      <Cell label={t('colAgency')}>{l.agency_name}</Cell>
      <Cell label={t('colStatus')} key={`${l.status}:${l.status_reason ?? ''}`} className={flash ? 'op-flash' : undefined}>
        <StatusTag status={l.status} reason={l.status_reason} />
      </Cell>
      <Cell className="num" label={t('colUptime')}>
        {formatUptime(l.uptime_secs)}
      </Cell>
      <Cell className="num" label={t('colRestarts')}>
        <span title={t('restartsDetail', { puente: l.restart_count, docker: l.docker_restart_count })}>
          {l.restart_count + l.docker_restart_count}
        </span>
        <span className="visually-hidden"> ({t('restartsDetail', { puente: l.restart_count, docker: l.docker_restart_count })})</span>
      </Cell>
      <Cell className="num" label={t('colCpu')}>
        {formatCpu(l.cpu_percent)}
      </Cell>
      <Cell label={t('colMemory')}>
        <MemoryFigure used={l.memory_used_bytes} limit={l.memory_limit_bytes} />
      </Cell>
      <Cell label={t('colContainer')}>
        <ContainerTag state={l.container_state} />
      </Cell>
      <Cell label={t('colEngine')}>
        <code className="op-engine">{l.engine}</code>
      </Cell>
    </tr>
  );
});

/** Restart every failed link at once (an incident's first move), confirmed, with progress. */
function RestartFailed({ links }: { links: AdminLink[] }) {
  const t = useT(m);
  const [open, setOpen] = useState(false);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);

  const run = async () => {
    setOpen(false);
    const ids = links.map((l) => l.id);
    let done = 0;
    let failed = 0;
    setProgress({ done, total: ids.length });
    // A few at a time: each restart waits for Docker.
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          await adminApi.restart(id);
        } catch {
          failed++;
        }
        done++;
        setProgress({ done, total: ids.length });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    setProgress(null);
    void refreshFleet();
    if (failed) toast(t('bulkSomeFailed', { ok: ids.length - failed, failed }), 'error');
    else toast(plural(t, 'bulkDone', ids.length, { n: ids.length }), 'success');
  };

  return (
    <div className="op-bulk row">
      <p className="op-bulk-text">{t('failedAttention', { n: links.length })}</p>
      <button type="button" className="btn btn-small" disabled={progress !== null} onClick={() => setOpen(true)}>
        {progress ? t('bulkProgress', { done: progress.done, total: progress.total }) : t('restartFailed', { n: links.length })}
      </button>
      <Confirm
        open={open}
        title={plural(t, 'restartFailedTitle', links.length, { n: links.length })}
        body={
          <>
            <p>{t('restartFailedBody')}</p>
            <ul className="op-bulk-list">
              {links.map((l) => (
                <li key={l.id}>{l.agent_name || l.agent_email}</li>
              ))}
            </ul>
          </>
        }
        confirmLabel={t('restartFailed', { n: links.length })}
        onConfirm={() => void run()}
        onClose={() => setOpen(false)}
      />
    </div>
  );
}
