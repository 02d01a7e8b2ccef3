// One of the buyer's conversations: the shared thread, with Block / Report for the agent in
// its header, and a "You blocked this agent" bar (with Unblock) while a block stands.
import { useState } from 'react';
import type { User } from '../../session/session';
import { api, ok, unwrap, type Schemas } from '../../api/client';
import { ApiError, problemMessage } from '../../api/problem';
import { useT } from '../../i18n';
import { Confirm, Dialog, TextArea } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { useAsync } from '../../ui/useAsync';
import { Thread } from '../chat/Thread';
import { common } from '../../i18n/common';
import { m } from './messages';

const MAX_REASON = 2000;

export function BuyerThread({ user, conversationId, onBack }: { user: User; conversationId: string; onBack: (() => void) | undefined }) {
  const t = useT(m);
  const conv = useAsync(() => unwrap(api.GET('/api/v1/conversations/{id}', { params: { path: { id: conversationId } } })), [conversationId]);
  const blocks = useAsync(() => unwrap(api.GET('/api/v1/blocks')), []);
  const [ask, setAsk] = useState<null | 'block' | 'report'>(null);
  const [busy, setBusy] = useState(false);

  const agentId = conv.data?.counterpart?.kind === 'agent' ? conv.data.counterpart.id : conv.data?.agent_id;
  const name = conv.data?.counterpart?.name ?? t('theAgent');
  const isBlocked = !!agentId && !!blocks.data?.some((b) => b.user_id === agentId);

  const block = async () => {
    if (!agentId) return;
    setBusy(true);
    try {
      const row = await unwrap(api.POST('/api/v1/users/{id}/block', { params: { path: { id: agentId } } }));
      blocks.setData((prev) => [row, ...(prev ?? []).filter((b) => b.user_id !== row.user_id)]);
      toast(t('blockedToast', { name }), 'success');
      setAsk(null);
    } catch (err) {
      toast(problemMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const unblock = async () => {
    if (!agentId) return;
    setBusy(true);
    try {
      await ok(api.DELETE('/api/v1/users/{id}/block', { params: { path: { id: agentId } } }));
      blocks.setData((prev) => (prev ?? []).filter((b) => b.user_id !== agentId));
      toast(t('unblockedToast', { name }), 'success');
    } catch (err) {
      toast(problemMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  const actions = agentId ? (
    <span className="buyer-thread-actions">
      {isBlocked ? (
        <button type="button" className="btn btn-ghost btn-small" disabled={busy} onClick={() => void unblock()}>
          {t('unblock')}
        </button>
      ) : (
        <button type="button" className="btn btn-ghost btn-small" disabled={busy} onClick={() => setAsk('block')}>
          {t('block')}
        </button>
      )}
      <button type="button" className="btn btn-ghost btn-small pl-danger" onClick={() => setAsk('report')}>
        {t('report')}
      </button>
    </span>
  ) : null;

  return (
    <div className="buyer-thread">
      {isBlocked && (
        <div className="blocked-bar" role="status">
          <span>
            <strong>{t('blocked', { name })}</strong> <span className="muted">{t('blockedBody')}</span>
          </span>
          <button type="button" className="btn btn-small" disabled={busy} onClick={() => void unblock()}>
            {t('unblock')}
          </button>
        </div>
      )}
      <div className="buyer-thread-body">
        <Thread conversationId={conversationId} user={user} headerActions={actions} {...(onBack ? { onBack } : {})} />
      </div>
      <Confirm
        open={ask === 'block'}
        title={t('blockTitle', { name })}
        body={<p>{t('blockBody', { name })}</p>}
        confirmLabel={t('block')}
        danger
        busy={busy}
        onConfirm={() => void block()}
        onClose={() => setAsk(null)}
      />
      {agentId && (
        <ReportDialog
          open={ask === 'report'}
          name={name}
          agentId={agentId}
          conversationId={conversationId}
          canBlock={!isBlocked}
          onBlocked={(row) => blocks.setData((prev) => [row, ...(prev ?? []).filter((b) => b.user_id !== row.user_id)])}
          onClose={() => setAsk(null)}
        />
      )}
    </div>
  );
}

type BlockRow = Schemas['BlockRow'];

function ReportDialog({ open, name, agentId, conversationId, canBlock, onBlocked, onClose }: {
  open: boolean;
  name: string;
  agentId: string;
  conversationId: string;
  canBlock: boolean;
  onBlocked: (row: BlockRow) => void;
  onClose: () => void;
}) {
  const t = useT(m);
  const tc = useT(common);
  const [reason, setReason] = useState('');
  const [alsoBlock, setAlsoBlock] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const close = () => {
    setErr(null);
    onClose();
  };
  const send = async () => {
    const r = reason.trim();
    if (!r) return setErr(t('reportEmpty'));
    if ([...r].length > MAX_REASON) return setErr(t('reportTooLong'));
    setBusy(true);
    setErr(null);
    try {
      await unwrap(api.POST('/api/v1/users/{id}/report', { params: { path: { id: agentId } }, body: { reason: r, conversation_id: conversationId } }));
      if (alsoBlock && canBlock) {
        const row = await unwrap(api.POST('/api/v1/users/{id}/block', { params: { path: { id: agentId } } }));
        onBlocked(row);
      }
      toast(t('reportSent'), 'success');
      setReason('');
      setAlsoBlock(false);
      onClose();
    } catch (e) {
      setErr(e instanceof ApiError && e.errors.length ? (e.errors[0]?.message ?? problemMessage(e)) : problemMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open={open}
      title={t('reportTitle', { name })}
      onClose={close}
      footer={
        <>
          <button type="button" className="btn btn-ghost" onClick={close}>
            {tc('cancel')}
          </button>
          <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void send()}>
            {t('reportSend')}
          </button>
        </>
      }
    >
      <p>{t('reportBody', { name })}</p>
      <TextArea label={t('reportReason')} value={reason} maxLength={MAX_REASON} rows={5} onChange={(e) => setReason(e.target.value)} error={err ?? undefined} />
      <p className="hint">
        {t('reportReasonHint')} ({[...reason].length}/{MAX_REASON})
      </p>
      {canBlock && (
        <label className="row report-check">
          <input type="checkbox" checked={alsoBlock} onChange={(e) => setAlsoBlock(e.target.checked)} />
          {t('alsoBlock', { name })}
        </label>
      )}
    </Dialog>
  );
}
