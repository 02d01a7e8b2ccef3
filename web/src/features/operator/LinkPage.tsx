// `/fleet/:id`: one link — its facts, live status, the actions an operator can take on its
// container (each confirmed, each with a visible result), and its logs.
import { useState } from 'react';
import { Link, navigate } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { problemMessage } from '../../api/problem';
import { Confirm, Empty, ErrorText, Spinner } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { formatDateTime, formatTime } from '../../lib/format';
import { m, type Key } from './messages';
import { useStore } from '../../lib/store';
import { fleetAddress, historyStore, refreshFleet, removeLink, useFleet } from './fleetStore';
import { adminApi } from './adminApi';
import { formatClock, formatCpu, formatUptime, type AdminLink } from './fleet';
import { ContainerTag, MemoryFigure, StatusTag, plural } from './parts';
import { LogViewer } from './LogViewer';
import { ReplayDialog } from './ReplayDialog';

type Action = 'restart' | 'stop' | 'delete';

interface Result {
  ok: boolean;
  text: string;
  at: Date;
}

export function LinkPage({ id }: { id: string }) {
  const t = useT(m);
  const tc = useT(common);
  const fleet = useFleet();
  const link = fleet.links?.find((l) => l.id === id);

  if (!fleet.links) {
    return (
      <div className="page op-page">
        <BackLink />
        {fleet.error !== undefined ? (
          <div className="row">
            <ErrorText>{problemMessage(fleet.error)}</ErrorText>
            <button type="button" className="btn btn-small" onClick={() => void refreshFleet()}>
              {tc('retry')}
            </button>
          </div>
        ) : (
          <div className="op-center">
            <Spinner />
          </div>
        )}
      </div>
    );
  }
  if (!link) {
    return (
      <div className="page op-page">
        <BackLink />
        <Empty title={t('linkGone')}>
          <p>{t('linkGoneBody')}</p>
        </Empty>
      </div>
    );
  }
  return <LinkDetail key={link.id} link={link} />;
}

function BackLink() {
  const t = useT(m);
  return (
    <p className="op-back">
      <Link to={fleetAddress()}>← {t('backToFleet')}</Link>
    </p>
  );
}

function LinkDetail({ link }: { link: AdminLink }) {
  const t = useT(m);
  const [confirm, setConfirm] = useState<Action | null>(null);
  const [busy, setBusy] = useState<Action | 'replay' | null>(null);
  const [replayOpen, setReplayOpen] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  const name = link.agent_name || link.agent_email;
  const stopped = link.status === 'stopped' || link.desired_state === 'stopped';
  const hintKey = `hint_${link.status_reason ?? ''}`;

  const run = async (a: Action) => {
    // Close the dialog at once; the action's button shows the progress.
    setConfirm(null);
    setBusy(a);
    try {
      if (a === 'restart') {
        await adminApi.restart(link.id);
        setResult({ ok: true, text: t('restartDone'), at: new Date() });
      } else if (a === 'stop') {
        await adminApi.stop(link.id);
        setResult({ ok: true, text: t('stopDone'), at: new Date() });
      } else {
        const now = await adminApi.remove(link.id);
        toast(now ? t('deleteDone', { name }) : t('deleteDeferred'), 'success');
        removeLink(link.id);
        navigate(fleetAddress());
        return;
      }
      void refreshFleet();
    } catch (err) {
      setResult({ ok: false, text: t('actionFailed', { what: t(a === 'delete' ? 'deleteLink' : a), why: problemMessage(err) }), at: new Date() });
    } finally {
      setBusy(null);
    }
  };

  const confirmText: Record<Action, { title: Key; body: Key; button: Key }> = {
    restart: { title: 'restartTitle', body: 'restartBody', button: 'restart' },
    stop: { title: 'stopTitle', body: 'stopBody', button: 'stop' },
    delete: { title: 'deleteTitle', body: 'deleteBody', button: 'deleteConfirm' },
  };

  return (
    <div className="page op-page">
      <BackLink />
      <div className="row-between op-head">
        <div className="grow">
          <h1 className="op-title">{t('linkOf', { name })}</h1>
          <p className="muted op-sub">
            {link.phone ? `+${link.phone.replace(/^\+/, '')}` : t('noPhone')} · {link.agency_name}
          </p>
        </div>
        <div aria-live="polite" className="op-live-status">
          <span className="visually-hidden">{t('colStatus')}: </span>
          <StatusTag status={link.status} reason={link.status_reason} />
        </div>
      </div>

      {hintKey in m.en && (
        <p className={`op-hint op-hint-${link.status === 'failed' ? 'bad' : 'info'}`} role="note">
          {t(hintKey as Key)}
        </p>
      )}

      <section className="card" aria-labelledby="op-actions-h">
        <h2 id="op-actions-h" className="op-h2">
          {t('actions')}
        </h2>
        <div className="row op-actions">
          <button type="button" className="btn btn-primary" disabled={busy !== null} onClick={() => setConfirm('restart')}>
            {busy === 'restart' ? t('restarting') : stopped ? t('start') : t('restart')}
          </button>
          <button type="button" className="btn" disabled={busy !== null || link.status === 'stopped'} onClick={() => setConfirm('stop')}>
            {busy === 'stop' ? t('stopping') : t('stop')}
          </button>
          <button type="button" className="btn" disabled={busy !== null} onClick={() => setReplayOpen(true)}>
            {t('replay')}
          </button>
          <button type="button" className="btn btn-danger" disabled={busy !== null} onClick={() => setConfirm('delete')}>
            {busy === 'delete' ? t('deleting') : t('deleteLink')}
          </button>
        </div>
        <div aria-live="polite" className="op-result-slot">
          {result && (
            <p className={`op-result ${result.ok ? 'op-result-ok' : 'op-result-bad'}`} role={result.ok ? undefined : 'alert'}>
              <span className="op-result-time">{formatTime(result.at)}</span> {result.text}
            </p>
          )}
        </div>
        <StatusHistory linkId={link.id} />
      </section>

      <section className="card" aria-labelledby="op-facts-h">
        <h2 id="op-facts-h" className="op-h2">
          {t('facts')}
        </h2>
        <LinkFacts link={link} />
      </section>

      <section className="card op-logs-card" aria-labelledby="op-logs-h">
        <LogViewer linkId={link.id} headingId="op-logs-h" containerState={link.container_state} />
      </section>

      <Confirm
        open={confirm !== null}
        title={t(confirm === 'restart' && stopped ? 'startTitle' : confirmText[confirm ?? 'restart'].title)}
        body={<p>{t(confirm === 'restart' && stopped ? 'startBody' : confirmText[confirm ?? 'restart'].body)}</p>}
        confirmLabel={t(confirm === 'restart' && stopped ? 'start' : confirmText[confirm ?? 'restart'].button)}
        danger={confirm !== 'restart'}
        onConfirm={() => confirm && void run(confirm)}
        onClose={() => setConfirm(null)}
      />
      <ReplayDialog
        open={replayOpen}
        linkId={link.id}
        onClose={() => setReplayOpen(false)}
        onDone={(n) => {
          setReplayOpen(false);
          setResult({ ok: true, text: plural(t, 'replayDone', n, { n }), at: new Date() });
        }}
      />
    </div>
  );
}

/** The status changes this tab saw live (since it opened), oldest first. */
function StatusHistory({ linkId }: { linkId: string }) {
  const t = useT(m);
  const list = useStore(historyStore, (h) => h[linkId]);
  if (!list?.length) return null;
  return (
    <div className="op-history-box">
      <h3 className="op-h3">{t('liveChanges')}</h3>
      <ol className="op-history">
        {list.map((c, i) => (
          <li key={c.at}>
            {i > 0 && (
              <span className="op-history-arrow" aria-hidden="true">
                →
              </span>
            )}
            <time className="op-history-time" dateTime={new Date(c.at).toISOString()}>
              {formatClock(new Date(c.at))}
            </time>
            <StatusTag status={c.status} reason={c.reason} />
          </li>
        ))}
      </ol>
    </div>
  );
}

function LinkFacts({ link: l }: { link: AdminLink }) {
  const t = useT(m);
  const when = (iso: string | null | undefined) => (iso ? <time dateTime={iso}>{formatDateTime(iso)}</time> : <span className="muted">{t('never')}</span>);
  const desiredKey = `desired_${l.desired_state}` as Key;
  return (
    <dl className="facts op-facts">
      <dt>{t('factLinkId')}</dt>
      <dd>
        <code className="op-code">{l.id}</code>
      </dd>
      <dt>{t('colAgent')}</dt>
      <dd>
        {l.agent_name} <span className="muted">({l.agent_email})</span>
        <br />
        <code className="op-code muted">{l.agent_id}</code>
      </dd>
      <dt>{t('colAgency')}</dt>
      <dd>
        {l.agency_name}
        <br />
        <code className="op-code muted">{l.agency_id}</code>
      </dd>
      <dt>{t('factDesired')}</dt>
      <dd>{desiredKey in m.en ? t(desiredKey) : l.desired_state}</dd>
      <dt>{t('colContainer')}</dt>
      <dd>
        <ContainerTag state={l.container_state} /> <code className="op-code">{l.container_name}</code>
      </dd>
      <dt>{t('factContainerId')}</dt>
      <dd>{l.container_id ? <code className="op-code">{l.container_id.slice(0, 12)}</code> : <span className="muted">—</span>}</dd>
      <dt>{t('factImage')}</dt>
      <dd>
        <code className="op-code">{l.image}</code>
      </dd>
      {l.node && (
        <>
          <dt>{t('factNode')}</dt>
          <dd>
            <code className="op-code">{l.node}</code>
          </dd>
        </>
      )}
      <dt>{t('colEngine')}</dt>
      <dd>
        <code className="op-code">{l.engine}</code>
      </dd>
      <dt>{t('factWaha')}</dt>
      <dd>
        {l.waha_version ? (
          <code className="op-code">{[l.waha_version, l.waha_engine, l.waha_tier].filter(Boolean).join(' · ')}</code>
        ) : (
          <span className="muted">{t('wahaUnknown')}</span>
        )}
      </dd>
      <dt>{t('factCreated')}</dt>
      <dd>{when(l.created_at)}</dd>
      <dt>{t('factStarted')}</dt>
      <dd>{when(l.started_at)}</dd>
      <dt>{t('colUptime')}</dt>
      <dd>{formatUptime(l.uptime_secs)}</dd>
      <dt>{t('factLastEvent')}</dt>
      <dd>{when(l.last_event_at)}</dd>
      <dt>{t('colRestarts')}</dt>
      <dd>{t('restartsDetail', { puente: l.restart_count, docker: l.docker_restart_count })}</dd>
      <dt>{t('colCpu')}</dt>
      <dd>{formatCpu(l.cpu_percent)}</dd>
      <dt>{t('colMemory')}</dt>
      <dd>
        <MemoryFigure used={l.memory_used_bytes} limit={l.memory_limit_bytes} />
      </dd>
    </dl>
  );
}
