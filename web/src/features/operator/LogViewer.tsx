// A container's logs: the last N lines, then (while following) new lines polled every few
// seconds with the previous answer's cursor (`after`), so each line arrives exactly once. It scrolls itself only while the reader is at the bottom; scrolled up, it offers a
// jump to the newest line instead. Pausing stops the polling. Polling also stops while the tab
// is hidden.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { problemMessage } from '../../api/problem';
import { ErrorText, Spinner } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { m } from './messages';
import { adminApi } from './adminApi';
import { appendLines, formatClock, mergeLogLines } from './fleet';
import { locale } from '../../i18n';
import { plural } from './parts';

export const FOLLOW_MS = 3000;
const TAILS = [100, 200, 500, 1000, 5000];
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function cleanLine(s: string): string {
  return s.replace(ANSI, '').replace(/\r$/, '');
}

export interface LogEntry {
  text: string;
  /** When the engine logged it (RFC 3339), if known. */
  at: string | null;
}

export function toEntries(lines: readonly string[], times: readonly (string | null)[] | undefined): LogEntry[] {
  return lines.map((l, i) => ({ text: cleanLine(l), at: times?.[i] ?? null }));
}

/**
 * Add polled entries: all of them after a cursor (`exact`), otherwise without the overlap
 * with what is shown (see `mergeLogLines`). Keeps the newest `cap`.
 */
export function mergeEntries(shown: readonly LogEntry[], fresh: readonly LogEntry[], exact: boolean, cap = 5000): { lines: LogEntry[]; added: number } {
  const texts = (l: readonly LogEntry[]) => l.map((e) => e.text);
  const { added } = exact ? appendLines(texts(shown), texts(fresh), cap) : mergeLogLines(texts(shown), texts(fresh), cap);
  const out = shown.concat(fresh.slice(fresh.length - added));
  return { lines: out.length > cap ? out.slice(-cap) : out, added };
}

/** "10:24:07.123" in the reader's time zone. */
export function formatLogTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const t = d.toLocaleTimeString(locale.get() === 'es' ? 'es-ES' : 'en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return `${t}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function lineLevel(s: string): 'error' | 'warn' | 'debug' | null {
  if (/\b(ERROR|FATAL|PANIC|error|fatal|panic)\b/.test(s)) return 'error';
  if (/\b(WARN|WARNING|warn|warning)\b/.test(s)) return 'warn';
  if (/\b(DEBUG|TRACE|debug|trace)\b/.test(s)) return 'debug';
  return null;
}

export function LogViewer({ linkId, headingId, containerState }: { linkId: string; headingId: string; containerState: string }) {
  const hasContainer = containerState !== 'absent';
  // A stopped container writes nothing new: polling it would only fill the audit log.
  const writing = containerState === 'running' || containerState === 'restarting' || containerState === 'created';
  const t = useT(m);
  const tc = useT(common);
  const [tail, setTail] = useState(200);
  const [lines, setLines] = useState<LogEntry[] | null>(null);
  const [showTimes, setShowTimes] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [following, setFollowing] = useState(true);
  const [wrap, setWrap] = useState(true);
  const [atBottom, setAtBottom] = useState(true);
  const [unseen, setUnseen] = useState(0);
  const [lastAt, setLastAt] = useState<Date | null>(null);
  const box = useRef<HTMLPreElement>(null);
  /** Where to follow from: the previous answer's cursor (exact)… */
  const cursor = useRef<string | null>(null);
  /** …or, before there is one, the server time (unix s) of the previous answer (overlap merged). */
  const serverNow = useRef<number | null>(null);
  const gen = useRef(0);
  const bottom = useRef(true);

  const load = useCallback(async () => {
    const my = ++gen.current;
    setError(undefined);
    try {
      const r = await adminApi.logs(linkId, { tail });
      if (my !== gen.current) return;
      serverNow.current = r.serverTime;
      cursor.current = r.cursor;
      setLines(toEntries(r.lines, r.times));
      setUnseen(0);
      setLastAt(new Date());
      bottom.current = true;
      setAtBottom(true);
    } catch (err) {
      if (my === gen.current) setError(err);
    }
  }, [linkId, tail]);

  useEffect(() => {
    setLines(null);
    if (hasContainer) void load();
    else gen.current++;
  }, [load, hasContainer]);

  // Follow: poll for lines since a moment before the previous answer.
  useEffect(() => {
    if (!following || lines === null || !writing) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (stop) return;
      if (document.visibilityState === 'hidden') {
        timer = setTimeout(() => void tick(), FOLLOW_MS);
        return;
      }
      const my = gen.current;
      const after = cursor.current;
      const since = (serverNow.current ?? Math.floor(Date.now() / 1000)) - 2;
      try {
        const r = await adminApi.logs(linkId, after ? { tail: 5000, after } : { tail: 5000, since });
        if (stop || my !== gen.current) return;
        serverNow.current = r.serverTime;
        cursor.current = r.cursor ?? after;
        const fresh = toEntries(r.lines, r.times);
        setLines((prev) => {
          const { lines: merged, added } = mergeEntries(prev ?? [], fresh, after !== null);
          if (!bottom.current && added > 0) setUnseen((u) => u + added);
          return added > 0 ? merged : (prev ?? merged);
        });
        setLastAt(new Date());
        setError(undefined);
      } catch (err) {
        if (!stop) setError(err);
      }
      if (!stop) timer = setTimeout(() => void tick(), FOLLOW_MS);
    };
    timer = setTimeout(() => void tick(), FOLLOW_MS);
    const onVis = () => {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer);
        void tick();
      }
    };
    document.addEventListener('visibilitychange', onVis);
    return () => {
      stop = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVis);
    };
    // Restart the loop only when following is toggled or a fresh load landed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [following, linkId, writing, lines === null]);

  // Keep the newest line in view while the reader is at the bottom.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && bottom.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const at = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    bottom.current = at;
    setAtBottom(at);
    if (at) setUnseen(0);
  };

  const jump = () => {
    const el = box.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    bottom.current = true;
    setAtBottom(true);
    setUnseen(0);
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText((lines ?? []).map((l) => (showTimes && l.at ? `${l.at} ${l.text}` : l.text)).join('\n'));
      toast(t('copied'), 'success', undefined, 2000);
    } catch {
      toast(t('copyFailed'), 'error');
    }
  };

  return (
    <>
      <div className="row-between op-logs-head">
        <h2 id={headingId} className="op-h2">
          {t('logs')}
        </h2>
        <div className="row op-logs-tools">
          <label className="op-inline-field">
            <span>{t('tailLabel')}</span>
            <select value={tail} onChange={(e) => setTail(Number(e.target.value))}>
              {TAILS.map((n) => (
                <option key={n} value={n}>
                  {t('lastN', { n })}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="btn btn-small" disabled={!writing} onClick={() => setFollowing((f) => !f)}>
            {following ? t('pause') : t('follow')}
          </button>
          <button type="button" className="btn btn-small" onClick={() => void load()}>
            {t('reloadLogs')}
          </button>
          <button type="button" className="btn btn-small" aria-pressed={showTimes} onClick={() => setShowTimes((v) => !v)}>
            {t('showTimes')}
          </button>
          <button type="button" className="btn btn-small" aria-pressed={wrap} onClick={() => setWrap((w) => !w)}>
            {t('wrap')}
          </button>
          <button type="button" className="btn btn-small" disabled={!lines?.length} onClick={() => void copy()}>
            {t('copyLogs')}
          </button>
        </div>
      </div>
      <p className="muted small op-logs-state" aria-live="polite">
        {!writing ? t('notWriting') : following ? t('following') : t('paused')}
        {lines ? ` · ${plural(t, 'logLines', lines.length, { n: lines.length })}` : ''}
        {lastAt ? ` · ${t('updated', { time: formatClock(lastAt) })}` : ''}
      </p>
      {error !== undefined && (
        <div className="row">
          <ErrorText>{problemMessage(error)}</ErrorText>
          <button type="button" className="btn btn-small" onClick={() => void load()}>
            {tc('retry')}
          </button>
        </div>
      )}
      <div className="op-logs-frame">
        {!hasContainer ? (
          <p className="op-logs op-logs-none">{t('noContainerLogs')}</p>
        ) : lines === null && error === undefined ? (
          <div className="op-center">
            <Spinner />
          </div>
        ) : (
          <pre
            ref={box}
            className={`op-logs${wrap ? ' op-logs-wrap' : ''}`}
            role="log"
            aria-live="off"
            aria-labelledby={headingId}
            tabIndex={0}
            onScroll={onScroll}
            data-testid="link-logs"
          >
            {lines && lines.length === 0 && <span className="op-logs-empty">{t('logsEmpty')}</span>}
            {lines?.map((l, i) => {
              const lvl = lineLevel(l.text);
              return (
                <span key={i} className={`op-line${lvl ? ` op-line-${lvl}` : ''}`}>
                  {showTimes && (
                    <time className="op-line-time" dateTime={l.at ?? undefined}>
                      {l.at ? formatLogTime(l.at) : '—'}{' '}
                    </time>
                  )}
                  {l.text}
                  {'\n'}
                </span>
              );
            })}
          </pre>
        )}
        {!atBottom && lines && lines.length > 0 && (
          <button type="button" className="btn btn-small btn-primary op-jump" onClick={jump}>
            {unseen > 0 ? plural(t, 'newLines', unseen, { n: unseen }) : t('jumpToEnd')} ↓
          </button>
        )}
      </div>
      <p className="muted small">{t('logsAuditNote')}</p>
    </>
  );
}
