// The alternative to the camera: WhatsApp sends a code to type on the phone instead
// (WhatsApp › Linked devices › Link a device › Link with phone number instead).
import { type FormEvent, useEffect, useState } from 'react';
import { useT } from '../../../i18n';
import { fieldError } from '../../../api/problem';
import { ErrorText, Field } from '../../../ui/controls';
import { toast } from '../../../ui/toast';
import { pairingCode } from './linkStore';
import { linkMessages as m } from './messages';
import { phoneDigits, spacedCode, type Link } from './model';
import { linkError } from './errors';

export function PairingPanel({ link }: { link: Link }) {
  const t = useT(m);
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [invalid, setInvalid] = useState(false);
  const [err, setErr] = useState<unknown>(undefined);

  // A code belongs to one session attempt: a new attempt (restart) needs a new code.
  useEffect(() => setCode(null), [link.id]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const digits = phoneDigits(phone);
    setErr(undefined);
    if (!digits) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    setBusy(true);
    try {
      setCode(await pairingCode(link.id, digits));
    } catch (e2) {
      if (fieldError(e2, 'phone_number')) setInvalid(true);
      else setErr(e2);
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    if (!code) return;
    try {
      await navigator.clipboard.writeText(code);
      toast(t('copied'), 'success');
    } catch {
      toast(t('copyFailed'), 'error');
    }
  };

  return (
    <details className="card pair-panel">
      <summary>
        <h2 className="pair-h">{t('pairTitle')}</h2>
      </summary>
      <p className="muted">{t('pairIntro')}</p>
      <form className="pair-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field
          label={t('pairPhone')}
          type="tel"
          inputMode="tel"
          autoComplete="tel"
          value={phone}
          onChange={(e) => {
            setPhone(e.target.value);
            setInvalid(false);
          }}
          hint={t('pairPhoneHint')}
          error={invalid ? t('pairPhoneInvalid') : undefined}
        />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? t('pairGetting') : t('pairGet')}
        </button>
      </form>
      {err ? <ErrorText>{linkError(t, err)}</ErrorText> : null}
      {code && (
        <div className="pair-result" aria-live="polite">
          <p className="pair-label">{t('pairCodeLabel')}</p>
          <div className="row">
            <output className="pair-code" aria-label={t('pairCodeLabel')}>
              {spacedCode(code)}
            </output>
            <button type="button" className="btn" onClick={() => void copy()} aria-label={t('copyCode')}>
              {t('copy')}
            </button>
          </div>
          <p className="hint">{t('pairCodeHint')}</p>
        </div>
      )}
    </details>
  );
}
