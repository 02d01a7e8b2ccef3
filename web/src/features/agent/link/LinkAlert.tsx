// The banner above every agent screen while their WhatsApp is not working: never linked,
// waiting for a scan, reconnecting, or dropped (unlinked by the phone, logged out, failed,
// crash loop) — what happened, and one button that fixes it or leads to the link screen.
// It follows the live store, so a dropped session is announced the moment it drops.
import { useState } from 'react';
import { navigate } from '../../../router';
import { useT } from '../../../i18n';
import { problemMessage } from '../../../api/problem';
import { toast } from '../../../ui/toast';
import { describe, type Fix } from './model';
import { linkMessages as m } from './messages';
import { restartLink, reloadLink, useLink } from './linkStore';
import './link.css';

/** The label of the alert's button for a fix. */
export function fixLabel(fix: Fix, reason: string | null | undefined, status?: string): keyof typeof m.en {
  switch (fix) {
    case 'create':
      return 'fix_create';
    case 'scan':
      return 'fix_scan';
    case 'relink':
      return 'fix_relink';
    case 'restart':
      if (status === 'stopped') return 'fix_start';
      return reason === 'qr_expired' ? 'fix_restart' : 'fix_retry';
    default:
      return 'fix_details';
  }
}

export function LinkAlert() {
  const t = useT(m);
  const { loaded, error, link } = useLink();
  const [busy, setBusy] = useState(false);

  let content = null;
  if (loaded && error && !link) {
    content = (
      <div className="link-alert link-alert-warn">
        <p className="link-alert-text">
          <strong>{t('loadFailed')}</strong> <span>{problemMessage(error)}</span>
        </p>
        <button type="button" className="btn btn-small" onClick={() => void reloadLink()}>
          {t('fix_retry')}
        </button>
      </div>
    );
  } else if (loaded) {
    const d = describe(link);
    if (!d.working) {
      const act = async () => {
        if (link && (d.fix === 'restart' || d.fix === 'relink')) {
          setBusy(true);
          try {
            await restartLink(link.id);
          } catch (err) {
            toast(problemMessage(err), 'error');
          } finally {
            setBusy(false);
          }
        }
        navigate('/whatsapp');
      };
      content = (
        <div className={`link-alert link-alert-${d.tone}`} data-link-alert={link?.status ?? 'none'}>
          <span className="link-alert-icon" aria-hidden="true">
            {d.tone === 'bad' ? '!' : d.tone === 'warn' ? '•' : '…'}
          </span>
          <p className="link-alert-text">
            <strong>{t(d.title)}</strong> <span className="link-alert-body">{t(d.body)}</span>
          </p>
          <button
            type="button"
            className={`btn btn-small ${d.tone === 'info' ? '' : 'btn-primary'}`}
            disabled={busy}
            onClick={() => void act()}
          >
            {busy ? t('working') : t(fixLabel(d.fix, link?.status_reason, link?.status))}
          </button>
        </div>
      );
    }
  }

  return (
    // Always in the page, so a change (a dropped session) is read out when it happens.
    <div className="link-alert-region" aria-live="polite" aria-atomic="true">
      {content && (
        <aside aria-label={t('alertLabel')}>
          {content}
        </aside>
      )}
    </div>
  );
}
