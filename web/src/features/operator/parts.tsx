// Small pieces the fleet table and the link page share: the status tag with its reason, the
// container state, the memory figure with its bar, and the words for statuses and reasons.
import type { ReactNode } from 'react';
import { problemMessage } from '../../api/problem';
import { ErrorText, Spinner } from '../../ui/controls';
import { useT, type T } from '../../i18n';
import { m, type Key } from './messages';
import { containerTone, formatMemory, memoryFraction, statusTone, type LinkStatus } from './fleet';

/** `t(key)` for most counts, `t('one_' + key)` for exactly one (the catalogue has both). */
export function plural(t: T<Key>, key: 'loadedN' | 'logLines' | 'newLines' | 'replayDone' | 'shown' | 'restartFailedTitle' | 'bulkDone', count: number, vars: Record<string, string | number>): string {
  return count === 1 ? t(`one_${key}`, vars) : t(key, vars);
}

export function statusLabel(t: T<Key>, s: LinkStatus): string {
  return t(`status_${s}` as Key);
}

export function reasonLabel(t: T<Key>, reason: string | null | undefined): string | null {
  if (!reason) return null;
  const key = `reason_${reason}` as Key;
  return key in m.en ? t(key) : reason.replace(/_/g, ' ');
}

export function containerLabel(t: T<Key>, state: string): string {
  const key = `cs_${state}` as Key;
  return key in m.en ? t(key) : state;
}

export function StatusTag({ status, reason }: { status: LinkStatus; reason?: string | null | undefined }) {
  const t = useT(m);
  const tone = statusTone(status);
  const why = reasonLabel(t, reason);
  return (
    <span className="op-status">
      <span className={`tag tag-${tone} op-tag-${tone}`} data-status={status}>
        <span className="op-dot" aria-hidden="true" />
        {statusLabel(t, status)}
      </span>
      {why && (
        <span className="op-reason" title={why}>
          {why}
        </span>
      )}
    </span>
  );
}

export function ContainerTag({ state }: { state: string }) {
  const t = useT(m);
  const tone = containerTone(state);
  return <span className={`tag tag-${tone} op-tag-${tone}`}>{containerLabel(t, state)}</span>;
}

export function MemoryFigure({ used, limit }: { used: number | null | undefined; limit: number | null | undefined }) {
  const t = useT(m);
  const frac = memoryFraction(used, limit);
  if (used === null || used === undefined) return <span className="muted">—</span>;
  const pct = frac === null ? null : Math.round(frac * 100);
  const text = limit ? t('memOf', { used: formatMemory(used), limit: formatMemory(limit) }) : formatMemory(used);
  return (
    <span className="op-mem">
      <span className="op-mem-text">{text}</span>
      {pct !== null && (
        <span
          className={`op-bar${pct >= 90 ? ' op-bar-bad' : pct >= 75 ? ' op-bar-warn' : ''}`}
          role="meter"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          aria-label={t('memPct', { pct })}
          title={t('memPct', { pct })}
        >
          <span className="op-bar-fill" style={{ width: `${Math.max(2, pct)}%` }} />
        </span>
      )}
    </span>
  );
}

/** A table cell that turns into a "label: value" line on a phone (operator.css). */
export function Cell({ label, className, children }: { label: string; className?: string | undefined; children: ReactNode }) {
  return (
    <td data-label={label} className={className}>
      <div className="op-cell">{children}</div>
    </td>
  );
}

/** A list's loading state: the problem with a retry, or a spinner while the first page loads. */
export function LoadState({ error, loading, onRetry, retryLabel }: { error: unknown; loading: boolean; onRetry: () => void; retryLabel: string }) {
  if (error !== undefined) {
    return (
      <div className="row">
        <ErrorText>{problemMessage(error)}</ErrorText>
        <button type="button" className="btn btn-small" onClick={onRetry}>
          {retryLabel}
        </button>
      </div>
    );
  }
  if (!loading) return null;
  return (
    <div className="op-center">
      <Spinner />
    </div>
  );
}
