// One conversation: the header, the messages (day separators, an unread line, older
// history on scrolling up with the scroll position kept, live updates) and the composer.
// Shared by the agent's inbox and the buyer's chats: a buyer never sees internal notes,
// agent-only actions or WhatsApp details. Read receipts go out only while the thread is
// really being read: the tab visible, the thread on screen, the newest message in view.
import { type ReactNode, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { User } from '../../session/session';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { formatDay } from '../../lib/format';
import { problemMessage } from '../../api/problem';
import { Confirm, Empty, Spinner } from '../../ui/controls';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { toast } from '../../ui/toast';
import { Bubble } from './Bubble';
import { Composer, type ComposerHandle, type SendInput } from './Composer';
import { m as cat } from './messages';
import { firstUnread, fromOtherSide, isLocal, isMine, newestStored, threadRows, type Msg } from './model';
import { conversationName, ListingCard, ThreadHeader } from './ThreadHeader';
import { useThread, type ConversationView } from './useThread';
import './chat.css';

export interface ThreadProps {
  conversationId: string;
  user: User;
  /** Extra buttons for the header (the buyer's block / report). */
  headerActions?: ReactNode;
  /** Phones: back to the list. */
  onBack?: () => void;
  /** Open scrolled to this message (search results). */
  focusMessageId?: string | undefined;
  /** Told when the conversation changes here (archived, closed, reassigned). */
  onConversationChange?: (c: ConversationView) => void;
  /** Agents: mark the conversation unread (shown in the header menu when given). */
  onMarkUnread?: (() => Promise<void>) | undefined;
}

const NEAR_TOP = 240;
const NEAR_BOTTOM = 80;

export function Thread(props: ThreadProps) {
  return (
    <ErrorBoundary inline>
      <ThreadView key={`${props.conversationId}:${props.focusMessageId ?? ''}`} {...props} />
    </ErrorBoundary>
  );
}

function useDocumentVisible(): boolean {
  const [v, setV] = useState(() => typeof document === 'undefined' || document.visibilityState === 'visible');
  useEffect(() => {
    const f = () => setV(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', f);
    return () => document.removeEventListener('visibilitychange', f);
  }, []);
  return v;
}

function ThreadView({ conversationId, user, headerActions, onBack, focusMessageId, onConversationChange, onMarkUnread }: ThreadProps) {
  const t = useT(cat);
  const tc = useT(common);
  const th = useThread(conversationId, user, focusMessageId);
  const { conv, msgs } = th;
  const staff = user.role === 'agent' || user.role === 'agency_admin';
  const [replyTo, setReplyTo] = useState<Msg | undefined>(undefined);
  const [highlight, setHighlight] = useState<string | undefined>(focusMessageId);
  const [atBottom, setAtBottom] = useState(!focusMessageId);
  const [newBelow, setNewBelow] = useState(0);
  const [dragging, setDragging] = useState(false);
  const [toDelete, setToDelete] = useState<Msg | undefined>(undefined);
  const visible = useDocumentVisible();

  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const composer = useRef<ComposerHandle>(null);
  const fromBottom = useRef(0);
  // Opening at a message (search) is not "at the bottom" until the observer says so.
  const atBottomRef = useRef(!focusMessageId);
  const positioned = useRef(false);
  const lastKey = useRef<string | undefined>(undefined);
  const prependSeen = useRef(0);
  const pendingRead = useRef(false);
  const lastRead = useRef<string | undefined>(undefined);

  // The unread line stays where it was when the thread opened.
  const [unreadAnchor, setUnreadAnchor] = useState<{ id: string; n: number } | undefined>(undefined);
  useEffect(() => {
    if (th.loading || unreadAnchor || !th.initialUnread) return;
    const id = firstUnread(msgs, user.id, th.initialUnread);
    if (id) setUnreadAnchor({ id, n: th.initialUnread });
  }, [th.loading, th.initialUnread, msgs, user.id, unreadAnchor]);

  const rows = useMemo(() => threadRows(msgs, unreadAnchor?.id, unreadAnchor?.n), [msgs, unreadAnchor]);
  const byId = useMemo(() => new Map(msgs.map((m) => [m.id, m])), [msgs]);
  const otherName = conversationName(conv, t('unknownContact'));

  const scrollToBottom = useCallback(() => {
    const s = scroller.current;
    if (s) s.scrollTop = s.scrollHeight;
  }, []);

  // Place the view once the first messages are in: at the focused message, the unread
  // line, or the bottom.
  useLayoutEffect(() => {
    if (th.loading || positioned.current) return;
    positioned.current = true;
    const s = scroller.current;
    if (!s) return;
    const target = focusMessageId ? document.getElementById(`msg-${focusMessageId}`) : unreadAnchor ? s.querySelector('.unread-line') : null;
    if (target) {
      target.scrollIntoView?.({ block: focusMessageId ? 'center' : 'start' });
      atBottomRef.current = false;
    } else scrollToBottom();
    lastKey.current = msgs[msgs.length - 1]?.id;
    fromBottom.current = s.scrollHeight - s.scrollTop;
  }, [th.loading, msgs, focusMessageId, unreadAnchor, scrollToBottom]);

  // Older messages on top keep what is on screen in place; a new message at the bottom
  // scrolls into view when the reader was at the bottom (or wrote it).
  useLayoutEffect(() => {
    const s = scroller.current;
    if (!s || !positioned.current) return;
    if (th.prepended !== prependSeen.current) {
      prependSeen.current = th.prepended;
      s.scrollTop = s.scrollHeight - fromBottom.current;
      return;
    }
    const last = msgs[msgs.length - 1];
    if (last && last.id !== lastKey.current) {
      lastKey.current = last.id;
      if (atBottomRef.current || (isMine(last, user.id) && isLocal(last))) scrollToBottom();
      else if (fromOtherSide(last, user.id)) setNewBelow((n) => n + 1);
    }
  }, [msgs, th.prepended, user.id, scrollToBottom]);

  // Images and players that load later must not push the newest message out of view.
  useEffect(() => {
    const c = content.current;
    if (!c || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottomRef.current && positioned.current) scrollToBottom();
    });
    ro.observe(c);
    return () => ro.disconnect();
  }, [scrollToBottom]);

  // Is the newest message on screen?
  useEffect(() => {
    const s = scroller.current;
    const el = sentinel.current;
    if (!s || !el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver(
      ([e]) => {
        const v = !!e?.isIntersecting;
        atBottomRef.current = v;
        setAtBottom(v);
        if (v) setNewBelow(0);
      },
      { root: s, rootMargin: `0px 0px ${NEAR_BOTTOM}px 0px` },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [th.loading]);

  const onScroll = () => {
    const s = scroller.current;
    if (!s) return;
    fromBottom.current = s.scrollHeight - s.scrollTop;
    if (s.scrollTop < NEAR_TOP && th.hasOlder && !th.loadingOlder && positioned.current) void th.loadOlder();
    if (th.hasNewer && s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM * 3) void th.loadNewer();
  };

  // Read receipts: only while really read.
  useEffect(() => {
    if (!th.loading && th.initialUnread > 0) pendingRead.current = true;
  }, [th.loading, th.initialUnread]);
  useEffect(() => {
    if (th.incoming > 0) pendingRead.current = true;
  }, [th.incoming]);
  useEffect(() => {
    if (th.loading || !pendingRead.current || !visible || !atBottom || th.hasNewer) return;
    const newest = newestStored(msgs);
    if (!newest || newest.id === lastRead.current) return;
    pendingRead.current = false;
    lastRead.current = newest.id;
    th.markRead(newest.id);
  }, [th.loading, visible, atBottom, th.hasNewer, msgs, th.incoming, th]);

  // Highlight a message for a moment (search results, jumps to a quoted message).
  useEffect(() => {
    if (!highlight) return;
    const tm = setTimeout(() => setHighlight(undefined), 2500);
    return () => clearTimeout(tm);
  }, [highlight]);

  const jumpTo = useCallback(
    async (id: string) => {
      let el = document.getElementById(`msg-${id}`);
      for (let i = 0; !el && i < 5 && th.hasOlder; i++) {
        await th.loadOlder();
        await new Promise((r) => requestAnimationFrame(() => r(null)));
        el = document.getElementById(`msg-${id}`);
      }
      if (el) {
        el.scrollIntoView?.({ block: 'center', behavior: 'smooth' });
        setHighlight(id);
        el.querySelector<HTMLElement>('.msg-actions button')?.focus({ preventScroll: true });
      } else toast(t('originalNotLoaded'), 'info');
    },
    [th, t],
  );

  const participant = !!conv && (conv.agent_id === user.id || conv.buyer_id === user.id);
  let disabledReason: string | undefined;
  if (conv?.status === 'closed') disabledReason = t('closedNotice');
  else if (conv && conv.channel === 'whatsapp' && !conv.link_id) disabledReason = t('linkDeleted');
  else if (conv && !participant && !staff) disabledReason = t('cannotWrite');

  const onSend = (s: SendInput) => {
    // Until the conversation is loaded, the writer is taken to be its participant.
    th.send({ body: s.body, file: s.file, replyTo: s.replyTo?.id, note: s.note || (staff && !!conv && !participant) });
    setReplyTo(undefined);
    setNewBelow(0);
    requestAnimationFrame(scrollToBottom);
  };

  const canChange = (m: Msg) =>
    isMine(m, user.id) && !isLocal(m) && !m.deleted_at && (m.kind === 'note' || conv?.channel === 'in_app') && m.status !== 'failed';

  const onDrop = (e: React.DragEvent) => {
    setDragging(false);
    const f = e.dataTransfer?.files?.[0];
    if (!f || disabledReason) return;
    e.preventDefault();
    composer.current?.attach(f);
  };

  if (th.error) {
    return (
      <section className="thread">
        <header className="thread-head">
          {onBack && (
            <button type="button" className="icon-btn thread-back" aria-label={t('back')} onClick={onBack}>
              <span aria-hidden="true">←</span>
            </button>
          )}
        </header>
        <div className="thread-error" role="alert">
          <p>{(th.error as { status?: number }).status === 404 ? t('notFound') : problemMessage(th.error)}</p>
          <button type="button" className="btn" onClick={th.reload}>
            {tc('retry')}
          </button>
        </div>
      </section>
    );
  }

  return (
    <section
      className={`thread${dragging ? ' thread-dragging' : ''}`}
      aria-label={otherName || t('messages')}
      onDragOver={(e) => {
        if (disabledReason || !e.dataTransfer?.types?.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target || !e.currentTarget.contains(e.relatedTarget as Node)) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <ThreadHeader
        conv={conv}
        user={user}
        typing={th.typing}
        online={th.online}
        onBack={onBack}
        headerActions={headerActions}
        markUnread={onMarkUnread}
        onChanged={(v) => {
          th.setConv(v);
          onConversationChange?.(v);
        }}
      />
      {conv?.property_id && (
        <div className="thread-listing-bar">
          <ListingCard propertyId={conv.property_id} compact />
        </div>
      )}
      <div className="thread-scroll" ref={scroller} onScroll={onScroll}>
        <div className="thread-content" ref={content} role="log" aria-label={t('messages')} aria-busy={th.loading || th.loadingOlder}>
          {th.loading ? (
            <div className="thread-loading">
              <Spinner />
            </div>
          ) : (
            <>
              <div className="thread-top">
                {th.hasOlder ? th.loadingOlder ? <Spinner label={t('loadingOlder')} /> : null : msgs.length > 0 && <span className="muted small">{t('startOfConversation')}</span>}
              </div>
              {msgs.length === 0 && <Empty title={t('noMessages')} />}
              {rows.map((r) =>
                r.type === 'day' ? (
                  <div key={r.key} className="day-sep" role="separator">
                    <span>{formatDay(r.at, { today: tc('today'), yesterday: tc('yesterday') })}</span>
                  </div>
                ) : r.type === 'unread' ? (
                  <div key={r.key} className="unread-line" role="separator">
                    <span>{r.n === 1 ? t('unreadLineOne') : t('unreadLine', { n: r.n })}</span>
                  </div>
                ) : (
                  <Bubble
                    key={r.key}
                    msg={r.msg}
                    meId={user.id}
                    mine={isMine(r.msg, user.id) || (r.msg.direction === 'out' && !r.msg.author_user_id && staff)}
                    first={r.first}
                    highlight={highlight === r.msg.id}
                    otherName={otherName}
                    quoted={r.msg.reply_to_id ? byId.get(r.msg.reply_to_id) : undefined}
                    readUpTo={th.readUpTo}
                    canChange={canChange(r.msg)}
                    canReply={!disabledReason}
                    retried={th.retried.has(r.msg.id)}
                    onReply={setReplyTo}
                    onReact={(m, e) => void th.react(m, e)}
                    onJump={(id) => void jumpTo(id)}
                    onRetry={th.retry}
                    onDiscard={th.discard}
                    onEdit={th.edit}
                    onDelete={setToDelete}
                  />
                ),
              )}
            </>
          )}
          <div ref={sentinel} className="thread-sentinel" aria-hidden="true" />
        </div>
      </div>
      {!th.loading && (!atBottom || th.hasNewer) && (
        <button
          type="button"
          className="jump-latest"
          aria-label={t('jumpToLatest')}
          onClick={() => {
            if (th.hasNewer) void th.jumpToLatest().then(() => requestAnimationFrame(scrollToBottom));
            else scrollToBottom();
            setNewBelow(0);
          }}
        >
          {newBelow > 0 && <span className="badge">{newBelow}</span>}
          <span aria-hidden="true">↓</span>
        </button>
      )}
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          {t('dropHere')}
        </div>
      )}
      <Composer
        ref={composer}
        conversationId={conversationId}
        staff={staff}
        noteOnly={staff && !!conv && !participant}
        disabledReason={disabledReason}
        replyTo={replyTo}
        replyName={replyTo && isMine(replyTo, user.id) ? t('you') : otherName}
        onCancelReply={() => setReplyTo(undefined)}
        onSend={onSend}
        onError={(text) => toast(text, 'error')}
      />
      <Confirm
        open={!!toDelete}
        title={t('deleteTitle')}
        body={<p>{t('deleteBody')}</p>}
        confirmLabel={t('delete')}
        danger
        onClose={() => setToDelete(undefined)}
        onConfirm={() => {
          const m = toDelete;
          setToDelete(undefined);
          if (m) void th.remove(m);
        }}
      />
    </section>
  );
}
