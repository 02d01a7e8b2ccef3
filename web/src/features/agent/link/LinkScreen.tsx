// `/whatsapp`: the agent links their own WhatsApp number. One click starts a session; the
// steps say where they are (starting → scan the QR → linked); the QR code is replaced live at
// every rotation with the time left on it; a pairing code is the alternative to the camera;
// every failure says why and offers its fix; once linked, the number and the ways to restart,
// unlink or remove it. Everything follows the live link store (no reload needed).
import { useEffect, useRef, useState } from 'react';
import { useT } from '../../../i18n';
import { ApiError, problemMessage } from '../../../api/problem';
import { Confirm, ErrorText, Spinner } from '../../../ui/controls';
import { toast } from '../../../ui/toast';
import { formatDateTime } from '../../../lib/format';
import { describe, formatPhone, stepOf, type Link } from './model';
import { linkMessages as m } from './messages';
import { createLink, deleteLink, logoutLink, reloadLink, restartLink, useLink } from './linkStore';
import { LinkSteps } from './LinkSteps';
import { QrPanel } from './QrPanel';
import { PairingPanel } from './PairingPanel';
import { SimulatedPhone } from './SimulatedPhone';
import { fixLabel } from './LinkAlert';
import { linkError } from './errors';
import './link.css';

export function LinkScreen() {
  const t = useT(m);
  const { loaded, error, link } = useLink();
  const headingRef = useRef<HTMLHeadingElement>(null);

  // When the part of the page that had focus goes away (the "Link" button, the QR panel once
  // linked), keep the keyboard user at the top of the new state instead of the page's start.
  const step = !loaded ? -1 : link ? stepOf(link.status) : 0;
  const shown = useRef(-1);
  useEffect(() => {
    const before = shown.current;
    shown.current = step;
    if (before === -1 || step === -1 || before === step) return;
    const active = document.activeElement;
    if (!active || active === document.body) headingRef.current?.focus();
  }, [step, link?.id]);

  return (
    <div className="page narrow link-page">
      <h1 ref={headingRef} tabIndex={-1} className="link-h1">
        {t('title')}
      </h1>
      <StateAnnouncer link={link} loaded={loaded} />
      {!loaded && <Spinner />}
      {loaded && error && !link ? (
        <div className="card">
          <ErrorText>
            {t('loadFailed')} {problemMessage(error)}
          </ErrorText>
          <button type="button" className="btn" onClick={() => void reloadLink()}>
            {t('fix_retry')}
          </button>
        </div>
      ) : null}
      {loaded && !error && !link && <NotLinked />}
      {loaded && link && (link.status === 'working' ? <Linked link={link} /> : <Linking link={link} />)}
    </div>
  );
}

/** Reads out each change of state (and nothing else) for screen readers. */
function StateAnnouncer({ link, loaded }: { link: Link | null; loaded: boolean }) {
  const t = useT(m);
  const d = describe(link);
  return (
    <p className="visually-hidden" aria-live="polite" aria-atomic="true">
      {loaded ? t(d.title) : ''}
    </p>
  );
}

function NotLinked() {
  const t = useT(m);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(undefined);
  const start = async () => {
    setBusy(true);
    setErr(undefined);
    try {
      await createLink();
    } catch (e) {
      setErr(e);
      if (e instanceof ApiError && e.code === 'link_limit_reached') void reloadLink();
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card link-start" aria-labelledby="link-start-h">
      <h2 id="link-start-h">{t('state_none')}</h2>
      <p>{t('intro')}</p>
      <LinkSteps current={0} />
      {err ? <ErrorText>{linkError(t, err)}</ErrorText> : null}
      <button type="button" className="btn btn-primary link-cta" disabled={busy} onClick={() => void start()}>
        {busy ? t('linking') : t('linkButton')}
      </button>
    </section>
  );
}

function Linking({ link }: { link: Link }) {
  const t = useT(m);
  const d = describe(link);
  const step = stepOf(link.status);
  const problem = d.tone === 'bad' || link.status_reason === 'logged_out' || link.status_reason === 'crashed' || link.status_reason === 'silent_restarted';
  return (
    <>
      {problem && <Trouble link={link} />}
      {/* A failure has its own card above; the steps come back with the next attempt. */}
      {d.tone !== 'bad' && (
        <section className="card" aria-labelledby="link-steps-h">
          <h2 id="link-steps-h" className="visually-hidden">
            {t('stepsLabel')}
          </h2>
          <LinkSteps current={step} />
          {link.status === 'scan_qr' ? (
            <>
              {link.status_reason === 'passkey_required' && (
                <p className="notice">
                  <strong>{t('state_passkey')}</strong> {t('why_passkey')}
                </p>
              )}
              <QrPanel link={link} />
            </>
          ) : (
            <div className="link-waiting">
              <Spinner label={t(d.title)} />
              <div>
                <p className="link-waiting-text" aria-hidden="true">
                  {t(d.title)}
                </p>
                <p className="hint">{t('step1Hint')}</p>
              </div>
            </div>
          )}
        </section>
      )}
      {link.status === 'scan_qr' && <PairingPanel link={link} />}
      <SimulatedPhone link={link} />
      <RemoveLink link={link} />
    </>
  );
}

/** A failure (or a recovery in progress): what happened, what to do, and the button that does it. */
function Trouble({ link }: { link: Link }) {
  const t = useT(m);
  const d = describe(link);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(undefined);
  const [startOver, setStartOver] = useState(false);
  const restart = async () => {
    setBusy(true);
    setErr(undefined);
    try {
      await restartLink(link.id);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const recreate = async () => {
    setBusy(true);
    setErr(undefined);
    try {
      await deleteLink(link.id);
      await createLink();
      setStartOver(false);
    } catch (e) {
      setErr(e);
      setStartOver(false);
    } finally {
      setBusy(false);
    }
  };
  const canRestart = d.fix === 'restart' || d.fix === 'relink';
  return (
    <section className={`card link-trouble link-trouble-${d.tone}`} aria-labelledby="link-trouble-h" data-link-reason={link.status_reason ?? ''}>
      <h2 id="link-trouble-h">{t(d.title)}</h2>
      <p>{t(d.body)}</p>
      {err ? <ErrorText>{linkError(t, err)}</ErrorText> : null}
      {(canRestart || d.fix === 'operator' || link.status === 'failed') && (
        <div className="row">
          {canRestart && (
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void restart()}>
              {busy ? t('working') : t(fixLabel(d.fix, link.status_reason, link.status))}
            </button>
          )}
          {link.status === 'failed' && link.status_reason !== 'image_missing' && (
            <button type="button" className="btn" disabled={busy} onClick={() => setStartOver(true)}>
              {t('startOver')}
            </button>
          )}
        </div>
      )}
      <Confirm
        open={startOver}
        title={t('startOverTitle')}
        body={<p>{t('startOverBody')}</p>}
        confirmLabel={t('startOverConfirm')}
        busy={busy}
        onConfirm={() => void recreate()}
        onClose={() => setStartOver(false)}
      />
    </section>
  );
}

function Linked({ link }: { link: Link }) {
  const t = useT(m);
  const [busy, setBusy] = useState<'restart' | 'logout' | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [err, setErr] = useState<unknown>(undefined);
  const phone = formatPhone(link.phone) || t('noName');
  const restart = async () => {
    setBusy('restart');
    setErr(undefined);
    try {
      await restartLink(link.id);
      toast(t('restarted'), 'info');
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(null);
    }
  };
  const logout = async () => {
    setBusy('logout');
    setErr(undefined);
    try {
      await logoutLink(link.id);
      setConfirm(false);
      toast(t('unlinked'), 'success');
    } catch (e) {
      setErr(e);
      setConfirm(false);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <section className="card link-linked" aria-labelledby="link-linked-h">
        <div className="link-linked-head">
          <span className="link-check" aria-hidden="true">
            ✓
          </span>
          <h2 id="link-linked-h">{t('linkedTitle')}</h2>
        </div>
        <p className="muted">{t('why_working')}</p>
        <dl className="facts">
          <dt>{t('number')}</dt>
          <dd className="link-phone" data-testid="link-phone">
            {phone}
          </dd>
          <dt>{t('waName')}</dt>
          <dd>{link.push_name || <span className="muted">{t('noName')}</span>}</dd>
          {link.working_since && (
            <>
              <dt>{t('linkedSince')}</dt>
              <dd>
                <time dateTime={link.working_since}>{formatDateTime(link.working_since)}</time>
              </dd>
            </>
          )}
        </dl>
        {err ? <ErrorText>{linkError(t, err)}</ErrorText> : null}
        <div className="link-actions">
          <div>
            <button type="button" className="btn" disabled={busy !== null} onClick={() => void restart()} aria-describedby="link-restart-hint">
              {busy === 'restart' ? t('restarting') : t('restart')}
            </button>
            <p id="link-restart-hint" className="hint">
              {t('restartHint')}
            </p>
          </div>
          <div>
            <button type="button" className="btn btn-danger" disabled={busy !== null} onClick={() => setConfirm(true)}>
              {t('unlink')}
            </button>
          </div>
        </div>
        <Confirm
          open={confirm}
          title={t('unlinkTitle', { phone })}
          body={<p>{t('unlinkBody')}</p>}
          confirmLabel={t('unlinkConfirm')}
          danger
          busy={busy === 'logout'}
          onConfirm={() => void logout()}
          onClose={() => setConfirm(false)}
        />
      </section>
      <SimulatedPhone link={link} />
      <RemoveLink link={link} />
    </>
  );
}

/** Delete the link altogether (container and volume); conversations stay. */
function RemoveLink({ link }: { link: Link }) {
  const t = useT(m);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(undefined);
  const remove = async () => {
    setBusy(true);
    setErr(undefined);
    try {
      const done = await deleteLink(link.id);
      toast(done ? t('removed') : t('removedLater'), 'success');
    } catch (e) {
      setErr(e);
      setOpen(false);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="link-remove" aria-labelledby="link-remove-h">
      <h2 id="link-remove-h" className="link-remove-h">
        {t('remove')}
      </h2>
      <p className="hint">{t('removeHint')}</p>
      {err ? <ErrorText>{linkError(t, err)}</ErrorText> : null}
      <button type="button" className="btn btn-small" onClick={() => setOpen(true)}>
        {t('removeConfirm')}…
      </button>
      <Confirm
        open={open}
        title={t('removeTitle')}
        body={<p>{t('removeBody')}</p>}
        confirmLabel={t('removeConfirm')}
        danger
        busy={busy}
        onConfirm={() => void remove()}
        onClose={() => setOpen(false)}
      />
    </section>
  );
}
