// `/audit`: who did what, when, with what result — newest first, a page at a time. The
// filters (actor, action, target, result, time range) are the server's: they live in the
// page's address (`/audit?action=link.&result=error`, so a filtered view can be shared and
// survives a reload), every change asks the server again and replaces the list, and "Load
// more" continues with the same filters from the last id shown.
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { User } from '../../session/session';
import { Link, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { ApiError } from '../../api/problem';
import { Empty, ErrorText } from '../../ui/controls';
import { useStore } from '../../lib/store';
import { formatDateTime } from '../../lib/format';
import { formatClock } from './fleet';
import { m, type Key } from './messages';
import { adminApi, type AuditQuery, type AuditRow } from './adminApi';
import { fleetStore, loadFleetOnce } from './fleetStore';
import { Cell, LoadState, plural } from './parts';
import './audit.css';

export const PAGE = 100;

export interface AuditFilter {
  /** '' anyone; `system`; a user id; or part of an email. */
  actor: string;
  /** '' any; an action (`link.restart`) or a prefix ending in a dot (`link.`). */
  action: string;
  /** '' any, else a target's full id. */
  target: string;
  result: '' | 'ok' | 'error';
  /** `datetime-local` values (the reader's clock), '' for open-ended. */
  from: string;
  to: string;
}

export const NO_AUDIT_FILTER: AuditFilter = { actor: '', action: '', target: '', result: '', from: '', to: '' };

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

/** The filters in the page's address; values the page could not have written are dropped. */
export function readAuditQuery(q: URLSearchParams): AuditFilter {
  const result = q.get('result');
  const time = (k: string) => {
    const v = q.get(k) ?? '';
    return LOCAL_TIME.test(v) ? v : '';
  };
  return {
    actor: (q.get('actor') ?? '').trim(),
    action: (q.get('action') ?? '').trim(),
    target: (q.get('target') ?? '').trim(),
    result: result === 'ok' || result === 'error' ? result : '',
    from: time('from'),
    to: time('to'),
  };
}

/** The address's query string for `f` (empty filters left out). */
export function auditSearch(f: AuditFilter): string {
  const q = new URLSearchParams();
  for (const k of ['actor', 'action', 'target', 'result', 'from', 'to'] as const) if (f[k]) q.set(k, f[k]);
  return q.toString();
}

function writeAuditQuery(f: AuditFilter) {
  const s = auditSearch(f);
  navigate(s ? `/audit?${s}` : '/audit', { replace: true });
}

/** What the server is asked: the filters as the API takes them, times in UTC. "To" a minute
 *  takes in that whole minute. */
export function auditQuery(f: AuditFilter): AuditQuery {
  const q: AuditQuery = {};
  if (f.actor) q.actor = f.actor;
  if (f.action) q.action = f.action;
  if (f.target) q.target_id = f.target;
  if (f.result) q.result = f.result;
  const from = f.from ? new Date(f.from).getTime() : NaN;
  const to = f.to ? new Date(f.to).getTime() + 60_000 : NaN;
  if (Number.isFinite(from)) q.from = new Date(from).toISOString();
  if (Number.isFinite(to)) q.to = new Date(to).toISOString();
  return q;
}

/** The page's label of each filter the server may name in a 422. */
const FIELD_LABELS: Record<string, Key> = {
  actor: 'filterActor',
  action: 'filterAction',
  target_id: 'filterTarget',
  result: 'filterResult',
  from: 'filterFrom',
  to: 'filterTo',
};

/** The filters a validation problem names, as the page labels them. */
export function badFilters(err: unknown): Key[] {
  if (!(err instanceof ApiError) || err.status !== 422) return [];
  return err.errors.flatMap((e) => (e.field in FIELD_LABELS ? [FIELD_LABELS[e.field] as Key] : []));
}

/** The actions the console has words for, and their families (`link.` …) to pick from. */
export function actionChoices(current: string): { value: string; prefix: boolean }[] {
  const actions = Object.keys(m.en)
    .filter((k) => k.startsWith('act_'))
    .map((k) => k.slice(4));
  const prefixes = [...new Set(actions.map((a) => `${a.split('.')[0]}.`))];
  const out = [...prefixes.map((value) => ({ value, prefix: true })), ...actions.map((value) => ({ value, prefix: false }))];
  out.sort((a, b) => a.value.localeCompare(b.value) || (a.prefix ? -1 : 1));
  if (current && !out.some((o) => o.value === current)) out.unshift({ value: current, prefix: current.endsWith('.') });
  return out;
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

interface Loaded {
  /** The server query these rows answer. */
  key: string;
  rows: AuditRow[];
  more: boolean;
}

export function AuditPage({ user }: { user: User }) {
  const t = useT(m);
  const tc = useT(common);
  const { query } = useRoute();
  const filter = readAuditQuery(query);
  // The server query the page shows, as a string (an effect's dependency).
  const key = JSON.stringify(auditQuery(filter));
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  // The query a "Load more" is under way for.
  const [loadingMore, setLoadingMore] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const fleet = useStore(fleetStore);
  useEffect(() => loadFleetOnce(), []);
  // The query the list shows now: a "Load more" answer for another one is dropped.
  const current = useRef(key);
  current.current = key;

  useEffect(() => {
    let live = true;
    setError(undefined);
    setLoaded((cur) => (cur?.key === key ? cur : null));
    adminApi.audit({ ...(JSON.parse(key) as AuditQuery), limit: PAGE }).then(
      (r) => live && setLoaded({ key, rows: r, more: r.length === PAGE }),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);

  const rows = loaded?.key === key ? loaded.rows : null;
  const more = loaded?.key === key && loaded.more;

  const loadMore = async () => {
    const last = rows?.[rows.length - 1];
    if (!last) return;
    const at = key;
    setLoadingMore(at);
    try {
      const r = await adminApi.audit({ ...(JSON.parse(at) as AuditQuery), limit: PAGE, before: last.id });
      setLoaded((cur) => (cur && cur.key === at ? { key: at, rows: [...cur.rows, ...r], more: r.length === PAGE } : cur));
    } catch (e) {
      if (current.current === at) setError(e);
    } finally {
      setLoadingMore((cur) => (cur === at ? null : cur));
    }
  };

  const names = useMemo(() => {
    const n = new Map<string, string>();
    for (const l of fleet.links ?? []) n.set(l.agent_id, l.agent_name || l.agent_email);
    n.set(user.id, t('youName', { name: user.display_name }));
    return n;
  }, [fleet.links, user.id, user.display_name, t]);
  const linkNames = useMemo(() => new Map((fleet.links ?? []).map((l) => [l.id, l.agent_name || l.agent_email])), [fleet.links]);
  const emails = useMemo(() => [...new Set((fleet.links ?? []).map((l) => l.agent_email))].sort(), [fleet.links]);

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

  const choices = useMemo(() => actionChoices(filter.action), [filter.action]);
  const groups = useMemo(() => groupAudit(rows ?? []), [rows]);
  const filtered = auditSearch(filter) !== '';
  const set = (f: Partial<AuditFilter>) => writeAuditQuery({ ...filter, ...f });
  const bad = badFilters(error);

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
        <TextFilter id="audit-actor" label={t('filterActor')} placeholder={t('actorPlaceholder')} value={filter.actor} invalid={bad.includes('filterActor')} onCommit={(actor) => set({ actor })} list="audit-actors" />
        {/* Suggestions: Puente itself, and the agents the fleet knows. */}
        <datalist id="audit-actors">
          <option value="system">{t('system')}</option>
          {emails.map((e) => (
            <option key={e} value={e} />
          ))}
        </datalist>
        <div className="field">
          <label htmlFor="audit-action">{t('filterAction')}</label>
          <select id="audit-action" value={filter.action} onChange={(e) => set({ action: e.target.value })}>
            <option value="">{t('anyAction')}</option>
            {choices.map((c) => (
              <option key={c.value} value={c.value}>
                {c.prefix ? t('actionGroup', { prefix: c.value }) : actionLabel(c.value)}
              </option>
            ))}
          </select>
        </div>
        <TextFilter id="audit-target" label={t('filterTarget')} placeholder={t('targetPlaceholder')} value={filter.target} invalid={bad.includes('filterTarget')} onCommit={(target) => set({ target })} />
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
          <input id="audit-from" type="datetime-local" value={filter.from} max={filter.to || undefined} onChange={(e) => set({ from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">{t('filterTo')}</label>
          <input id="audit-to" type="datetime-local" value={filter.to} min={filter.from || undefined} onChange={(e) => set({ to: e.target.value })} />
        </div>
        {filtered && (
          <button type="button" className="btn btn-ghost op-clear" onClick={() => writeAuditQuery(NO_AUDIT_FILTER)}>
            {t('clearFilters')}
          </button>
        )}
      </form>

      {bad.length > 0 && <ErrorText>{t('badFilters', { fields: bad.map((k) => t(k)).join(', ') })}</ErrorText>}
      <LoadState error={error} loading={rows === null && error === undefined} onRetry={() => setTick((x) => x + 1)} retryLabel={tc('retry')} />
      {rows && (
        <p className="muted small" aria-live="polite">
          {filtered ? t('matchingN', { n: rows.length }) : plural(t, 'loadedN', rows.length, { n: rows.length })}
        </p>
      )}
      {rows && rows.length === 0 && <Empty title={filtered ? t('noAuditMatch') : t('noAudit')} />}
      {rows && rows.length > 0 && (
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
              {groups.map(({ row: r, count, oldest }) => {
                const who = actorName(r);
                const actor = r.actor_user_id ?? 'system';
                return (
                  <tr key={r.id}>
                    <Cell label={t('colTime')} className="op-nowrap">
                      <time dateTime={r.created_at}>{formatDateTime(r.created_at)}</time>
                    </Cell>
                    <Cell label={t('colActor')}>
                      {filter.actor === actor ? (
                        who
                      ) : (
                        <button type="button" className="audit-pick" title={t('onlyActor', { name: who })} aria-label={t('onlyActor', { name: who })} onClick={() => set({ actor })}>
                          {who}
                        </button>
                      )}
                    </Cell>
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
                      <AuditTarget row={r} linkName={r.target_id ? linkNames.get(r.target_id) : undefined} picked={!!r.target_id && filter.target === r.target_id} onPick={(target) => set({ target })} />
                    </Cell>
                    <Cell label={t('colResult')}>
                      <span className={`tag ${r.result === 'ok' ? 'tag-ok' : 'tag-bad'}`}>{r.result === 'ok' ? t('result_ok') : t('result_error')}</span>
                    </Cell>
                    <Cell label={t('colDetail')} className="op-detail">
                      {detailText(r.detail)}
                      {r.ip && <span className="muted small op-block">{t('ipLabel', { ip: r.ip })}</span>}
                    </Cell>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {rows &&
        (more ? (
          <div className="op-center">
            <button type="button" className="btn" disabled={loadingMore === key} onClick={() => void loadMore()}>
              {loadingMore === key ? tc('loading') : tc('loadMore')}
            </button>
          </div>
        ) : rows.length > 0 ? (
          <p className="muted small op-center">{t('endOfLog')}</p>
        ) : null)}
    </div>
  );
}

/** A text filter applied when the reader is done typing: on Enter or on leaving the field. */
function TextFilter({ id, label, placeholder, value, invalid, onCommit, list }: { id: string; label: string; placeholder: string; value: string; invalid: boolean; onCommit: (v: string) => void; list?: string }) {
  const [draft, setDraft] = useState(value);
  // The address changed under the field (cleared, picked from a row, back button).
  useEffect(() => setDraft(value), [value]);
  const commit = () => {
    const v = draft.trim();
    if (v !== value) onCommit(v);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit();
    }
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="search" value={draft} placeholder={placeholder} list={list} autoComplete="off" spellCheck={false} aria-invalid={invalid || undefined} onChange={(e) => setDraft(e.target.value)} onKeyDown={onKeyDown} onBlur={commit} />
    </div>
  );
}

/** The target's kind (for a link: a link to its page) and its id, which filters the log to
 *  that target unless it already does. */
function AuditTarget({ row: r, linkName, picked, onPick }: { row: AuditRow; linkName: string | undefined; picked: boolean; onPick: (target: string) => void }) {
  const t = useT(m);
  if (!r.target_type && !r.target_id) return <span className="muted">—</span>;
  const typeKey = `tt_${r.target_type ?? ''}` as Key;
  const type = r.target_type ? (typeKey in m.en ? t(typeKey) : r.target_type) : '';
  const id = r.target_id;
  const short = id && id.length > 12 ? id.slice(0, 8) : id;
  return (
    <>
      {r.target_type === 'whatsapp_link' && id ? (
        <Link className="op-block" to={`/fleet/${id}`}>
          {linkName ? t('linkOf', { name: linkName }) : type}
        </Link>
      ) : (
        <span className="op-block">{type}</span>
      )}
      {id &&
        (picked ? (
          <code className="op-code muted" title={id}>
            {short}
          </code>
        ) : (
          <button type="button" className="audit-pick op-code" title={id} aria-label={t('onlyTarget', { target: id })} onClick={() => onPick(id)}>
            {short}
          </button>
        ))}
    </>
  );
}
