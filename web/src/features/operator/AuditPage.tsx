// `/audit`: who did what, when, with what result — newest first, a page at a time. The API
// pages by id only, so the filters (actor, action, target, result, time range) apply to the
// entries loaded so far; "Load more" reaches further back.
import { useEffect, useMemo, useState } from 'react';
import type { User } from '../../session/session';
import { Link } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Empty } from '../../ui/controls';
import { useStore } from '../../lib/store';
import { formatDateTime } from '../../lib/format';
import { formatClock } from './fleet';
import { m, type Key } from './messages';
import { adminApi, type AuditRow } from './adminApi';
import { fleetStore, loadFleetOnce } from './fleetStore';
import { Cell, LoadState, plural } from './parts';

const PAGE = 100;

export interface AuditFilter {
  actor: string; // '' any, 'system' for none, else a user id
  action: string;
  target: string;
  result: '' | 'ok' | 'error';
  from: string; // datetime-local
  to: string;
}

export const NO_AUDIT_FILTER: AuditFilter = { actor: '', action: '', target: '', result: '', from: '', to: '' };

export function filterAudit(rows: readonly AuditRow[], f: AuditFilter): AuditRow[] {
  const from = f.from ? new Date(f.from).getTime() : null;
  // "To" a minute is inclusive of that whole minute.
  const to = f.to ? new Date(f.to).getTime() + 60_000 : null;
  const target = f.target.trim().toLowerCase();
  return rows.filter((r) => {
    if (f.actor === 'system' ? r.actor_user_id : f.actor && r.actor_user_id !== f.actor) return false;
    if (f.action && r.action !== f.action) return false;
    if (f.result && r.result !== f.result) return false;
    const at = new Date(r.created_at).getTime();
    if (from !== null && at < from) return false;
    if (to !== null && at >= to) return false;
    if (target) {
      const hay = `${r.target_type ?? ''} ${r.target_id ?? ''}`.toLowerCase();
      if (!hay.includes(target)) return false;
    }
    return true;
  });
}

/** Actions that repeat in bursts (reading logs while following them). */
const BURSTY = new Set(['link.logs']);
const BURST_MS = 15 * 60_000;

export interface AuditGroup {
  row: AuditRow;
  count: number;
  /** The oldest entry's time when `count > 1`. */
  oldest: string;
}

/** Fold runs of the same bursty action by the same actor on the same target into one row. */
export function groupAudit(rows: readonly AuditRow[]): AuditGroup[] {
  const out: AuditGroup[] = [];
  for (const r of rows) {
    const g = out[out.length - 1];
    if (
      g &&
      BURSTY.has(r.action) &&
      g.row.action === r.action &&
      g.row.actor_user_id === r.actor_user_id &&
      g.row.target_id === r.target_id &&
      g.row.result === r.result &&
      new Date(g.row.created_at).getTime() - new Date(r.created_at).getTime() < BURST_MS
    ) {
      g.count++;
      g.oldest = r.created_at;
    } else out.push({ row: r, count: 1, oldest: r.created_at });
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function detailValue(k: string, v: unknown): string {
  if (typeof v === 'string' && UUID.test(v)) return v.slice(0, 8);
  if (typeof v === 'string' && ISO.test(v) && !Number.isNaN(Date.parse(v))) return formatDateTime(v);
  // `since` of a log read is unix seconds.
  if (k === 'since' && typeof v === 'number' && v > 1e9) return formatDateTime(new Date(v * 1000).toISOString());
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** `{"tail":200,"since":null}` → `tail: 200`; ids shortened, times in the reader's format. */
export function detailText(d: unknown): string {
  if (d === null || d === undefined) return '';
  if (typeof d !== 'object') return String(d);
  return Object.entries(d as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${detailValue(k, v)}`)
    .join(', ');
}

export function AuditPage({ user }: { user: User }) {
  const t = useT(m);
  const tc = useT(common);
  const [rows, setRows] = useState<AuditRow[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);
  const [filter, setFilter] = useState<AuditFilter>(NO_AUDIT_FILTER);
  const [tick, setTick] = useState(0);
  const fleet = useStore(fleetStore);
  useEffect(() => loadFleetOnce(), []);

  useEffect(() => {
    let live = true;
    setError(undefined);
    adminApi.audit({ limit: PAGE }).then(
      (r) => {
        if (!live) return;
        setRows(r);
        setMore(r.length === PAGE);
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [tick]);

  const loadMore = async () => {
    const last = rows?.[rows.length - 1];
    if (!last) return;
    setLoadingMore(true);
    try {
      const r = await adminApi.audit({ limit: PAGE, before: last.id });
      setRows((cur) => [...(cur ?? []), ...r]);
      setMore(r.length === PAGE);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  const names = useMemo(() => {
    const n = new Map<string, string>();
    for (const l of fleet.links ?? []) n.set(l.agent_id, l.agent_name || l.agent_email);
    n.set(user.id, t('youName', { name: user.display_name }));
    return n;
  }, [fleet.links, user.id, user.display_name, t]);
  const linkNames = useMemo(() => new Map((fleet.links ?? []).map((l) => [l.id, l.agent_name || l.agent_email])), [fleet.links]);

  const actorName = (r: AuditRow) => {
    if (!r.actor_user_id) return t('system');
    const known = names.get(r.actor_user_id);
    if (known) return known;
    const role = r.actor_role ? `role_${r.actor_role}` : '';
    const roleText = role && role in m.en ? t(role as Key) : (r.actor_role ?? '');
    return `${roleText} ${r.actor_user_id.slice(0, 8)}`.trim();
  };
  const actionLabel = (a: string) => {
    const key = `act_${a}` as Key;
    return key in m.en ? t(key) : a;
  };

  const actors = useMemo(() => {
    const seen = new Map<string, AuditRow>();
    for (const r of rows ?? []) if (r.actor_user_id && !seen.has(r.actor_user_id)) seen.set(r.actor_user_id, r);
    return [...seen.values()];
  }, [rows]);
  const actions = useMemo(() => [...new Set((rows ?? []).map((r) => r.action))].sort(), [rows]);
  const shown = useMemo(() => filterAudit(rows ?? [], filter), [rows, filter]);
  const groups = useMemo(() => groupAudit(shown), [shown]);
  const filtered = JSON.stringify(filter) !== JSON.stringify(NO_AUDIT_FILTER);
  const set = (f: Partial<AuditFilter>) => setFilter((cur) => ({ ...cur, ...f }));

  return (
    <div className="page op-page">
      <div className="row-between op-head">
        <div>
          <h1>{t('auditTitle')}</h1>
          <p className="muted op-sub">{t('auditIntro')}</p>
        </div>
        <button type="button" className="btn btn-small" onClick={() => setTick((x) => x + 1)}>
          {t('refresh')}
        </button>
      </div>

      <form className="op-filters op-audit-filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="audit-actor">{t('filterActor')}</label>
          <select id="audit-actor" value={filter.actor} onChange={(e) => set({ actor: e.target.value })}>
            <option value="">{t('anyActor')}</option>
            <option value="system">{t('system')}</option>
            {actors.map((r) => (
              <option key={r.actor_user_id} value={r.actor_user_id ?? ''}>
                {actorName(r)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-action">{t('filterAction')}</label>
          <select id="audit-action" value={filter.action} onChange={(e) => set({ action: e.target.value })}>
            <option value="">{t('anyAction')}</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {actionLabel(a)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-target">{t('filterTarget')}</label>
          <input id="audit-target" type="search" value={filter.target} placeholder={t('targetPlaceholder')} onChange={(e) => set({ target: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-result">{t('filterResult')}</label>
          <select id="audit-result" value={filter.result} onChange={(e) => set({ result: e.target.value as AuditFilter['result'] })}>
            <option value="">{t('anyResult')}</option>
            <option value="ok">{t('result_ok')}</option>
            <option value="error">{t('result_error')}</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-from">{t('filterFrom')}</label>
          <input id="audit-from" type="datetime-local" value={filter.from} onChange={(e) => set({ from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">{t('filterTo')}</label>
          <input id="audit-to" type="datetime-local" value={filter.to} onChange={(e) => set({ to: e.target.value })} />
        </div>
        {filtered && (
          <button type="button" className="btn btn-ghost op-clear" onClick={() => setFilter(NO_AUDIT_FILTER)}>
            {t('clearFilters')}
          </button>
        )}
      </form>

      <LoadState error={error} loading={rows === null} onRetry={() => setTick((x) => x + 1)} retryLabel={tc('retry')} />
      {rows && (
        <p className="muted small" aria-live="polite">
          {filtered ? t('matchingN', { shown: shown.length, n: rows.length }) : plural(t, 'loadedN', rows.length, { n: rows.length })}
          {filtered && more ? ` ${t('filtersLocal')}` : ''}
        </p>
      )}
      {rows && shown.length === 0 && <Empty title={rows.length === 0 ? t('noAudit') : t('noAuditMatch')} />}
      {rows && shown.length > 0 && (
        <div className="table-wrap op-table-wrap">
          <table className="table op-cards-table op-audit">
            <caption className="visually-hidden">{t('auditTitle')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colTime')}</th>
                <th scope="col">{t('colActor')}</th>
                <th scope="col">{t('colAction')}</th>
                <th scope="col">{t('colTarget')}</th>
                <th scope="col">{t('colResult')}</th>
                <th scope="col">{t('colDetail')}</th>
              </tr>
            </thead>
            <tbody>
              {groups.map(({ row: r, count, oldest }) => (
                <tr key={r.id}>
                  <Cell label={t('colTime')} className="op-nowrap">
                    <time dateTime={r.created_at}>{formatDateTime(r.created_at)}</time>
                  </Cell>
                  <Cell label={t('colActor')}>{actorName(r)}</Cell>
                  <Cell label={t('colAction')}>
                    {actionLabel(r.action)}
                    <code className="op-code muted op-block small">{r.action}</code>
                    {count > 1 && (
                      <span className="op-block small op-repeat">
                        {t('repeated', { n: count, from: formatClock(new Date(oldest)), to: formatClock(new Date(r.created_at)) })}
                      </span>
                    )}
                  </Cell>
                  <Cell label={t('colTarget')}>
                    <AuditTarget row={r} linkName={r.target_id ? linkNames.get(r.target_id) : undefined} />
                  </Cell>
                  <Cell label={t('colResult')}>
                    <span className={`tag ${r.result === 'ok' ? 'tag-ok' : 'tag-bad'}`}>{r.result === 'ok' ? t('result_ok') : t('result_error')}</span>
                  </Cell>
                  <Cell label={t('colDetail')} className="op-detail">
                    {detailText(r.detail)}
                    {r.ip && <span className="muted small op-block">{t('ipLabel', { ip: r.ip })}</span>}
                  </Cell>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows && (more ? (
        <div className="op-center">
          <button type="button" className="btn" disabled={loadingMore} onClick={() => void loadMore()}>
            {loadingMore ? tc('loading') : tc('loadMore')}
          </button>
        </div>
      ) : rows.length > 0 ? (
        <p className="muted small op-center">{t('endOfLog')}</p>
      ) : null)}
    </div>
  );
}

function AuditTarget({ row: r, linkName }: { row: AuditRow; linkName: string | undefined }) {
  const t = useT(m);
  if (!r.target_type && !r.target_id) return <span className="muted">—</span>;
  const typeKey = `tt_${r.target_type ?? ''}` as Key;
  const type = r.target_type ? (typeKey in m.en ? t(typeKey) : r.target_type) : '';
  if (r.target_type === 'whatsapp_link' && r.target_id) {
    return (
      <>
        <span className="op-block">{type}</span>
        <Link to={`/fleet/${r.target_id}`}>{linkName ? t('linkOf', { name: linkName }) : <code className="op-code">{r.target_id.slice(0, 8)}</code>}</Link>
      </>
    );
  }
  return (
    <>
      <span className="op-block">{type}</span>
      {r.target_id && <code className="op-code muted" title={r.target_id}>{r.target_id.length > 12 ? r.target_id.slice(0, 8) : r.target_id}</code>}
    </>
  );
}
