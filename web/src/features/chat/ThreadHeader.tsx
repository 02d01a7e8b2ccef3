// The thread's header: who is on the other side (name, channel, online / typing), the
// listing the conversation is about, whose conversation it is (for an agency admin, who sees
// every agent's), and — for agency staff — the conversation's actions (archive, close,
// reopen, mark unread, reassign).
import { useEffect, useState, type ReactNode } from 'react';
import { api, unwrap, type Schemas } from '../../api/client';
import { problemMessage } from '../../api/problem';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { formatMoney } from '../../lib/format';
import { Link } from '../../router';
import type { User } from '../../session/session';
import { Avatar, Confirm, Dialog, Select, Spinner } from '../../ui/controls';
import { useFileUrl } from '../../ui/files';
import { toast } from '../../ui/toast';
import { listingThumb, useListing } from './listing';
import { Menu } from './Menu';
import { m as cat } from './messages';
import type { ConversationView, TypingState } from './useThread';

export function conversationName(c: ConversationView | undefined, fallback: string): string {
  if (!c) return '';
  return c.counterpart?.name || c.contact?.name || c.contact?.phone || fallback;
}

export function ListingCard({ propertyId, compact }: { propertyId: string; compact?: boolean }) {
  const t = useT(cat);
  const l = useListing(propertyId);
  const thumb = useFileUrl(listingThumb(l));
  if (!l) return null;
  return (
    <Link to={`/listings/${l.id}`} className={`conv-listing${compact ? ' conv-listing-compact' : ''}`} aria-label={t('openListing', { title: l.title })}>
      <span className="conv-listing-thumb">{thumb.url ? <img src={thumb.url} alt="" /> : <span aria-hidden="true">🏠</span>}</span>
      <span className="conv-listing-text">
        <span className="conv-listing-title truncate">{l.title}</span>
        <span className="conv-listing-sub truncate">
          {formatMoney(l.price_cents / 100, l.currency)} · {l.city}
        </span>
      </span>
    </Link>
  );
}

export function ThreadHeader({
  conv,
  user,
  typing,
  online,
  onBack,
  headerActions,
  onChanged,
  markUnread,
}: {
  conv: ConversationView | undefined;
  user: User;
  typing: TypingState | null;
  online: boolean | undefined;
  onBack?: (() => void) | undefined;
  headerActions?: ReactNode;
  onChanged: (c: ConversationView) => void;
  /** When the API has it: mark the conversation unread (and leave it). */
  markUnread?: (() => Promise<void>) | undefined;
}) {
  const t = useT(cat);
  const tc = useT(common);
  const staff = user.role === 'agent' || user.role === 'agency_admin';
  const [confirmClose, setConfirmClose] = useState(false);
  const [assignOpen, setAssignOpen] = useState(false);
  const name = conversationName(conv, t('unknownContact'));

  const act = async (action: 'archive' | 'unarchive' | 'close', done: string) => {
    if (!conv) return;
    try {
      const path = `/api/v1/conversations/{id}/${action}` as const;
      const view = await unwrap(api.POST(path, { params: { path: { id: conv.id } } }));
      onChanged(view);
      const undo =
        action === 'archive'
          ? { label: t('unarchive'), run: () => void act('unarchive', t('unarchived')) }
          : undefined;
      toast(done, 'success', undo);
    } catch (e) {
      toast(problemMessage(e), 'error');
    }
  };

  let status: ReactNode = null;
  if (typing) status = <span className="thread-typing">{typing.state === 'recording' ? t('recording') : t('typing')}</span>;
  else if (online !== undefined) status = <span>{online ? t('online') : t('offline')}</span>;

  return (
    <header className="thread-head">
      {onBack && (
        <button type="button" className="icon-btn thread-back" aria-label={t('back')} onClick={onBack}>
          <span aria-hidden="true">←</span>
        </button>
      )}
      {conv ? (
        <>
          <Avatar name={name} size={40} />
          <div className="thread-who grow">
            <h2 className="thread-name truncate">{name}</h2>
            <div className="thread-sub" aria-live="polite">
              {staff && (
                <span className={`tag channel-${conv.channel}`}>{conv.channel === 'whatsapp' ? t('whatsapp') : t('inApp')}</span>
              )}
              {staff && conv.contact?.phone && conv.contact.name && <span className="muted small">+{conv.contact.phone}</span>}
              {user.role === 'agency_admin' && <span className="small thread-agent truncate">{t('ownedBy', { name: conv.agent_name })}</span>}
              {conv.status === 'archived' && <span className="tag tag-warn">{t('statusArchived')}</span>}
              {conv.status === 'closed' && <span className="tag tag-bad">{t('statusClosed')}</span>}
              {status && <span className="small thread-status">{status}</span>}
              {staff &&
                conv.related_conversation_ids.slice(0, 1).map((id) => (
                  <Link key={id} to={`/inbox/${id}`} className="small thread-related">
                    {conv.channel === 'whatsapp' ? t('alsoInApp') : t('alsoWhatsapp')}
                  </Link>
                ))}
            </div>
          </div>
          {conv.property_id && (
            <div className="thread-listing">
              <ListingCard propertyId={conv.property_id} compact />
            </div>
          )}
          {headerActions}
          {staff && (
            <Menu
              label={t('conversationActions')}
              icon={<span aria-hidden="true">⋮</span>}
              items={[
                { label: t('archive'), hidden: conv.status !== 'open', onSelect: () => void act('archive', t('archived')) },
                { label: t('unarchive'), hidden: conv.status !== 'archived', onSelect: () => void act('unarchive', t('unarchived')) },
                { label: t('reopen'), hidden: conv.status !== 'closed', onSelect: () => void act('unarchive', t('reopened')) },
                { label: t('markUnread'), hidden: !markUnread, onSelect: () => void markUnread?.() },
                {
                  label: t('reassign'),
                  hidden: user.role !== 'agency_admin' || conv.channel !== 'in_app',
                  onSelect: () => setAssignOpen(true),
                },
                { label: t('close'), hidden: conv.status === 'closed', danger: true, onSelect: () => setConfirmClose(true) },
              ]}
            />
          )}
        </>
      ) : (
        <div className="grow">
          <Spinner />
        </div>
      )}
      <Confirm
        open={confirmClose}
        title={t('closeConfirmTitle')}
        body={<p>{t('closeConfirmBody')}</p>}
        confirmLabel={t('close')}
        danger
        onClose={() => setConfirmClose(false)}
        onConfirm={() => {
          setConfirmClose(false);
          void act('close', t('closed'));
        }}
      />
      {conv && assignOpen && (
        <ReassignDialog
          conv={conv}
          onClose={() => setAssignOpen(false)}
          onDone={(v, who) => {
            setAssignOpen(false);
            onChanged(v);
            toast(t('reassigned', { name: who }), 'success');
          }}
          cancelLabel={tc('cancel')}
        />
      )}
    </header>
  );
}

function ReassignDialog({
  conv,
  onClose,
  onDone,
  cancelLabel,
}: {
  conv: ConversationView;
  onClose: () => void;
  onDone: (v: ConversationView, name: string) => void;
  cancelLabel: string;
}) {
  const t = useT(cat);
  const [agents, setAgents] = useState<Schemas['UserDto'][] | null>(null);
  const [pick, setPick] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    unwrap(api.GET('/api/v1/agency/agents')).then(
      (list) => {
        const choices = list.filter((a) => a.active && a.id !== conv.agent_id && (a.role === 'agent' || a.role === 'agency_admin'));
        setAgents(choices);
        setPick(choices[0]?.id ?? '');
      },
      (e: unknown) => setErr(problemMessage(e)),
    );
  }, [conv.agent_id]);
  const submit = async () => {
    if (!pick) return;
    setBusy(true);
    setErr(null);
    try {
      const v = await unwrap(api.POST('/api/v1/conversations/{id}/assign', { params: { path: { id: conv.id } }, body: { agent_id: pick } }));
      onDone(v, agents?.find((a) => a.id === pick)?.display_name ?? '');
    } catch (e) {
      setErr(problemMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open
      title={t('reassignTitle')}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn btn-ghost" onClick={onClose}>
            {cancelLabel}
          </button>
          <button type="button" className="btn btn-primary" disabled={!pick || busy} onClick={() => void submit()}>
            {t('reassignDo')}
          </button>
        </>
      }
    >
      {agents === null && !err ? (
        <Spinner />
      ) : (
        agents && (
          <Select label={t('reassignTo')} value={pick} onChange={(e) => setPick(e.target.value)}>
            {agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.display_name} ({a.email})
              </option>
            ))}
          </Select>
        )
      )}
      {err && (
        <p className="form-error" role="alert">
          {err}
        </p>
      )}
    </Dialog>
  );
}
