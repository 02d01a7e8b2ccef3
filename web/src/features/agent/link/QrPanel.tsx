// The QR code to scan, replaced live at every rotation, with the time left on this code and
// which code of the attempt it is.
import { useEffect, useState } from 'react';
import { useT } from '../../../i18n';
import { Spinner } from '../../../ui/controls';
import { codeNumber, qrLifetime, QR_CODES_PER_ATTEMPT, secondsLeft, type Link } from './model';
import { fetchQr, useLink } from './linkStore';
import { linkMessages as m } from './messages';
import { linkError } from './errors';

/** The current time, updated every `ms` while `active`. */
export function useNow(active: boolean, ms = 500): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [active, ms]);
  return now;
}

export function QrPanel({ link }: { link: Link }) {
  const t = useT(m);
  const { qr, qrError } = useLink();
  const shown = qr && qr.linkId === link.id ? qr : null;
  const now = useNow(Boolean(shown));
  const left = shown ? secondsLeft(shown.rotation, shown.since, now) : 0;
  const n = shown ? codeNumber(shown.rotation) : 1;
  const total = QR_CODES_PER_ATTEMPT;
  const lifetime = shown ? qrLifetime(shown.rotation) : 60;

  return (
    <div className="qr-panel">
      <div className="qr-box">
        {shown ? (
          <img key={shown.src} className="qr-img" src={shown.src} alt={t('qrAlt', { n, total })} width={264} height={264} data-rotation={shown.rotation} />
        ) : qrError ? (
          <div className="qr-placeholder">
            <p>{linkError(t, qrError)}</p>
            <button type="button" className="btn btn-small" onClick={() => void fetchQr()}>
              {t('qrRetry')}
            </button>
          </div>
        ) : (
          <div className="qr-placeholder">
            <Spinner label={t('qrLoading')} />
            <span aria-hidden="true">{t('qrLoading')}</span>
          </div>
        )}
      </div>
      <div className="qr-side">
        {shown && (
          <>
            <p className="qr-meta">
              <span className="tag">{t('qrCodeOf', { n, total })}</span>{' '}
              {left > 0 ? (
                <span className={`qr-left${left <= 5 ? ' qr-left-low' : ''}`}>{t('qrSecondsLeft', { n: left })}</span>
              ) : (
                <span className="qr-left">{t('qrWaitingNext')}</span>
              )}
            </p>
            <div
              className="qr-bar"
              role="progressbar"
              aria-label={t('qrSecondsLeft', { n: left })}
              aria-valuemin={0}
              aria-valuemax={lifetime}
              aria-valuenow={left}
            >
              <span className="qr-bar-fill" style={{ width: `${(left / lifetime) * 100}%` }} />
            </div>
            {n >= total && <p className="hint">{t('qrLast')}</p>}
            {/* Read out once per new code, not every second. */}
            <p className="visually-hidden" aria-live="polite">
              {t('qrNewAnnounce', { n, total, s: qrLifetime(shown.rotation) })}
            </p>
          </>
        )}
        <h3 className="qr-how-h">{t('qrHowTitle')}</h3>
        <ol className="qr-how">
          <li>{t('qrHow1')}</li>
          <li>{t('qrHow2')}</li>
          <li>{t('qrHow3')}</li>
        </ol>
      </div>
    </div>
  );
}
