// "Replay stored events": re-apply a link's stored webhook events — all of them, or only those
// received since a chosen time (the one option the API has). Idempotent on the server.
import { useEffect, useId, useState } from 'react';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { problemMessage } from '../../api/problem';
import { Dialog, ErrorText } from '../../ui/controls';
import { m } from './messages';
import { adminApi } from './adminApi';

/** `YYYY-MM-DDTHH:mm` in local time, for a datetime-local input. */
export function toLocalInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function ReplayDialog({ open, linkId, onClose, onDone }: { open: boolean; linkId: string; onClose: () => void; onDone: (n: number) => void }) {
  const t = useT(m);
  const tc = useT(common);
  const id = useId();
  const [scope, setScope] = useState<'all' | 'since'>('since');
  const [since, setSince] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [fieldErr, setFieldErr] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (!open) return;
    setScope('since');
    setSince(toLocalInput(new Date(Date.now() - 3600_000)));
    setError(undefined);
    setFieldErr(undefined);
  }, [open]);

  const submit = async () => {
    let iso: string | null = null;
    if (scope === 'since') {
      const d = new Date(since);
      if (!since || Number.isNaN(d.getTime())) {
        setFieldErr(t('replayNeedsTime'));
        return;
      }
      iso = d.toISOString();
    }
    setBusy(true);
    setError(undefined);
    try {
      const r = await adminApi.replay(linkId, iso);
      onDone(r.replayed);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open={open}
      title={t('replayTitle')}
      onClose={() => !busy && onClose()}
      footer={
        <>
          <button type="button" className="btn btn-ghost" onClick={onClose} disabled={busy}>
            {tc('cancel')}
          </button>
          <button type="submit" form={`${id}-form`} className="btn btn-primary" disabled={busy}>
            {busy ? t('replaying') : t('replayRun')}
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
        <p>{t('replayBody')}</p>
        <fieldset className="op-fieldset">
          <legend>{t('replayWhich')}</legend>
          <label className="op-radio">
            <input type="radio" name={`${id}-scope`} checked={scope === 'since'} onChange={() => setScope('since')} />
            {t('replaySince')}
          </label>
          {scope === 'since' && (
            <div className={`field op-indent${fieldErr ? ' field-invalid' : ''}`}>
              <label htmlFor={`${id}-since`}>{t('replaySinceLabel')}</label>
              <input
                id={`${id}-since`}
                type="datetime-local"
                value={since}
                max={toLocalInput(new Date())}
                aria-invalid={fieldErr ? true : undefined}
                aria-describedby={fieldErr ? `${id}-err` : undefined}
                onChange={(e) => {
                  setSince(e.target.value);
                  setFieldErr(undefined);
                }}
              />
              {fieldErr && (
                <small id={`${id}-err`} className="field-error">
                  {fieldErr}
                </small>
              )}
            </div>
          )}
          <label className="op-radio">
            <input type="radio" name={`${id}-scope`} checked={scope === 'all'} onChange={() => setScope('all')} />
            {t('replayAll')}
          </label>
        </fieldset>
        {error !== undefined && <ErrorText>{problemMessage(error)}</ErrorText>}
      </form>
    </Dialog>
  );
}
