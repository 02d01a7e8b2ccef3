// `/reports`: the report queue. Filter by state, read the reason (and the reported message's
// excerpt, the only message text operators ever see), close a report as resolved or dismissed
// with a note. Closing is audited by the server as `report.resolve`.
import { useEffect, useId, useRef, useState } from 'react';
import { navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { problemMessage } from '../../api/problem';
import { Dialog, Empty, ErrorText, TextArea } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { formatDateTime, formatListTime } from '../../lib/format';
import { m, type Key } from './messages';
import { Cell, LoadState } from './parts';
import { adminApi, type Report, type Resolution } from './adminApi';

const PAGE = 50;
export const REFRESH_MS = 20_000;
const FILTERS: ('open' | 'resolved' | 'dismissed' | 'all')[] = ['open', 'resolved', 'dismissed', 'all'];
type FilterValue = (typeof FILTERS)[number];

export function ReportsPage({ userId }: { userId: string }) {
  const t = useT(m);
  const tc = useT(common);
  const { query } = useRoute();
  const raw = query.get('status');
  const filter: FilterValue = FILTERS.includes(raw as FilterValue) ? (raw as FilterValue) : 'open';
  const [items, setItems] = useState<Report[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);
  const [resolving, setResolving] = useState<Report | null>(null);
  const [tick, setTick] = useState(0);
  /** Bumped by every change made here, so a quiet refresh already in flight cannot undo it. */
  const gen = useRef(0);

  useEffect(() => {
    let live = true;
    gen.current++;
    setItems(null);
    setError(undefined);
    adminApi.reports({ status: filter === 'all' ? '' : filter, limit: PAGE }).then(
      (r) => {
        if (!live) return;
        setItems(r);
        setMore(r.length === PAGE);
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [filter, tick]);

  // No event announces new reports: refresh the first page quietly while the tab is visible
  // (not while paging further back or closing one).
  const quiet = items !== null && items.length <= PAGE && resolving === null && !loadingMore;
  useEffect(() => {
    if (!quiet) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'hidden') return;
      const my = gen.current;
      adminApi.reports({ status: filter === 'all' ? '' : filter, limit: PAGE }).then(
        (r) => {
          if (my !== gen.current) return;
          setItems(r);
          setMore(r.length === PAGE);
        },
        () => {
          /* keep what is shown; the next refresh tries again */
        },
      );
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [quiet, filter]);

  const loadMore = async () => {
    const last = items?.[items.length - 1];
    if (!last) return;
    setLoadingMore(true);
    try {
      const r = await adminApi.reports({ status: filter === 'all' ? '' : filter, limit: PAGE, before: last.id });
      setItems((cur) => [...(cur ?? []), ...r]);
      setMore(r.length === PAGE);
    } catch (e) {
      toast(problemMessage(e), 'error');
    } finally {
      setLoadingMore(false);
    }
  };

  const onResolved = (r: Report) => {
    gen.current++;
    setResolving(null);
    toast(t('resolvedToast', { status: t(`rs_${r.status}` as Key).toLocaleLowerCase() }), 'success');
    setItems((cur) => {
      if (!cur) return cur;
      if (filter === 'open') return cur.filter((x) => x.id !== r.id);
      return cur.map((x) => (x.id === r.id ? r : x));
    });
  };

  return (
    <div className="page op-page">
      <div className="row-between op-head">
        <div>
          <h1>{t('reportsTitle')}</h1>
          <p className="muted op-sub">{t('reportsIntro')}</p>
        </div>
        <button type="button" className="btn btn-small" onClick={() => setTick((x) => x + 1)}>
          {t('refresh')}
        </button>
      </div>
      <div className="row op-chips" role="group" aria-label={t('filterReports')}>
        {FILTERS.map((f) => (
          <button
            key={f}
            type="button"
            className="chip"
            aria-pressed={filter === f}
            onClick={() => navigate(f === 'open' ? '/reports' : `/reports?status=${f}`, { replace: true })}
          >
            {t(`rf_${f}` as Key)}
          </button>
        ))}
      </div>

      <LoadState error={error} loading={items === null} onRetry={() => setTick((x) => x + 1)} retryLabel={tc('retry')} />
      {items && items.length === 0 && <Empty title={filter === 'open' ? t('noOpenReports') : t('noReports')} />}
      {items && items.length > 0 && (
        <div className="table-wrap op-table-wrap">
          <table className="table op-cards-table op-reports">
            <caption className="visually-hidden">{t('reportsTitle')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colWhen')}</th>
                <th scope="col">{t('colReporter')}</th>
                <th scope="col">{t('colReported')}</th>
                <th scope="col">{t('colReason')}</th>
                <th scope="col">{t('colReportStatus')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <ReportRow key={r.id} report={r} mine={r.resolved_by === userId} onResolve={() => setResolving(r)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && (
        <div className="op-center">
          <button type="button" className="btn" disabled={loadingMore} onClick={() => void loadMore()}>
            {loadingMore ? tc('loading') : tc('loadMore')}
          </button>
        </div>
      )}
      <ResolveDialog report={resolving} onClose={() => setResolving(null)} onDone={onResolved} />
    </div>
  );
}

function ReportRow({ report: r, mine, onResolve }: { report: Report; mine: boolean; onResolve: () => void }) {
  const t = useT(m);
  const tone = r.status === 'open' ? 'warn' : r.status === 'resolved' ? 'ok' : '';
  const roleKey = `role_${r.reported_role}` as Key;
  return (
    <tr data-report={r.id}>
      <Cell label={t('colWhen')}>
        <time dateTime={r.created_at} title={formatDateTime(r.created_at)}>
          {formatListTime(r.created_at)}
        </time>
      </Cell>
      <Cell label={t('colReporter')}>{r.reporter_name}</Cell>
      <Cell label={t('colReported')}>
        {r.reported_name} <span className="muted small">({roleKey in m.en ? t(roleKey) : r.reported_role})</span>
      </Cell>
      <Cell label={t('colReason')} className="op-reason-cell">
        <p className="op-report-reason">{r.reason}</p>
        {r.message_excerpt && (
          <blockquote className="op-excerpt">
            <span className="visually-hidden">{t('excerpt')}: </span>
            {r.message_excerpt}
          </blockquote>
        )}
      </Cell>
      <Cell label={t('colReportStatus')}>
        <span className={`tag${tone ? ` tag-${tone}` : ''}`}>{t(`rs_${r.status}` as Key)}</span>
        {r.resolved_at && (
          <span className="muted small op-block">{t(mine ? 'closedAtByYou' : 'closedAt', { when: formatDateTime(r.resolved_at) })}</span>
        )}
        {r.resolution_note && <span className="op-note op-block">“{r.resolution_note}”</span>}
      </Cell>
      <td className="op-row-action">
        {r.status === 'open' && (
          <button type="button" className="btn btn-small btn-primary" onClick={onResolve} aria-label={t('resolveFor', { name: r.reported_name })}>
            {t('resolve')}
          </button>
        )}
      </td>
    </tr>
  );
}

/** Stays mounted (the native dialog gives focus back to the button that opened it on close). */
function ResolveDialog({ report, onClose, onDone }: { report: Report | null; onClose: () => void; onDone: (r: Report) => void }) {
  const t = useT(m);
  const tc = useT(common);
  const id = useId();
  const [outcome, setOutcome] = useState<Resolution>('resolved');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const tooLong = note.length > 2000;
  const reportId = report?.id;

  useEffect(() => {
    if (!reportId) return;
    setOutcome('resolved');
    setNote('');
    setError(undefined);
  }, [reportId]);

  const submit = async () => {
    if (tooLong || !report) return;
    setBusy(true);
    setError(undefined);
    try {
      onDone(await adminApi.resolve(report.id, outcome, note));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const outcomes: { v: Resolution; label: Key; hint: Key }[] = [
    { v: 'resolved', label: 'outcomeResolved', hint: 'outcomeResolvedHint' },
    { v: 'dismissed', label: 'outcomeDismissed', hint: 'outcomeDismissedHint' },
  ];

  return (
    <Dialog
      open={report !== null}
      title={t('resolveTitle')}
      onClose={() => !busy && onClose()}
      footer={
        <>
          <button type="button" className="btn btn-ghost" onClick={onClose} disabled={busy}>
            {tc('cancel')}
          </button>
          <button type="submit" form={`${id}-form`} className="btn btn-primary" disabled={busy || tooLong}>
            {busy ? tc('loading') : t('resolveSubmit')}
          </button>
        </>
      }
    >
      <form
        id={`${id}-form`}
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <p className="op-resolve-about">
          {t('resolveAbout', { reporter: report?.reporter_name ?? '', reported: report?.reported_name ?? '' })}
        </p>
        <blockquote className="op-excerpt">{report?.reason}</blockquote>
        <fieldset className="op-fieldset">
          <legend>{t('outcome')}</legend>
          {outcomes.map((o) => (
            <label key={o.v} className={`kind${outcome === o.v ? ' kind-on' : ''}`}>
              <input type="radio" name={`${id}-outcome`} value={o.v} checked={outcome === o.v} onChange={() => setOutcome(o.v)} />
              <span className="kind-label">{t(o.label)}</span>
              <span className="kind-hint">{t(o.hint)}</span>
            </label>
          ))}
        </fieldset>
        <TextArea
          label={t('note')}
          value={note}
          maxLength={2000}
          onChange={(e) => setNote(e.target.value)}
          error={tooLong ? t('noteTooLong') : undefined}
        />
        <p className="hint op-note-hint">
          {t('noteHint')} {t('charsLeft', { n: 2000 - note.length })}
        </p>
        {error !== undefined && <ErrorText>{problemMessage(error)}</ErrorText>}
      </form>
    </Dialog>
  );
}
