// One conversation: the header, the messages (day separators, an unread line, older
// history on scrolling up with the scroll position kept, live updates) and the composer.
// However many messages are loaded, at most a window of them is rendered (threadWindow.ts):
// it moves as the reader nears its top or bottom, anchored on a message on screen so nothing
// jumps, and follows the newest messages while the reader is there.
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
import { rowsBetween, spanAround, spanBounds, spanDown, spanUp, type Span } from './threadWindow';
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
/** How close (px) to the window's top or bottom the reader gets before it moves. */
const EDGE = 600;

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
  /** The first message on screen and its distance from the scroller's top, kept on every scroll. */
  const anchor = useRef<{ id: string; offset: number } | null>(null);
  /** The scroll position the last scroll event saw: which way the reader is going. */
  const lastTop = useRef(0);
  /** A message to scroll to and highlight once the window has it (a jump to a quoted one). */
  const pendingJump = useRef<string | undefined>(undefined);
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
  const indexOf = useMemo(() => new Map(msgs.map((m, i) => [m.id, i])), [msgs]);
  const otherName = conversationName(conv, t('unknownContact'));

  // The rendered window over the loaded messages.
  const [span, setSpan] = useState<Span>(null);
  const bounds = spanBounds(msgs.length, span, (id) => indexOf.get(id));
  const shownRows = useMemo(() => rowsBetween(rows, msgs, bounds), [rows, msgs, bounds.start, bounds.end]); // eslint-disable-line react-hooks/exhaustive-deps
  const atEnd = bounds.end >= msgs.length;
  const atEndRef = useRef(atEnd);
  atEndRef.current = atEnd;
  const live = useRef({ msgs, bounds, hasOlder: th.hasOlder, indexOf });
  live.current = { msgs, bounds, hasOlder: th.hasOlder, indexOf };

  const scrollToBottom = useCallback(() => {
    const s = scroller.current;
    if (s) s.scrollTop = s.scrollHeight;
  }, []);

  const rememberAnchor = useCallback(() => {
    const s = scroller.current;
    const c = content.current;
    if (!s || !c) return;
    const top = s.getBoundingClientRect().top;
    for (const el of c.querySelectorAll<HTMLElement>('[data-message-id]')) {
      const r = el.getBoundingClientRect();
      if (r.bottom > top) {
        anchor.current = { id: el.dataset.messageId ?? '', offset: r.top - top };
        return;
      }
    }
  }, []);

  /** Put the anchor message back where it was after rows above it came or went. */
  const restoreAnchor = useCallback(() => {
    const s = scroller.current;
    const a = anchor.current;
    if (!s || !a) return;
    const el = [...(content.current?.querySelectorAll<HTMLElement>('[data-message-id]') ?? [])].find((x) => x.dataset.messageId === a.id);
    if (!el) return;
    const dy = el.getBoundingClientRect().top - s.getBoundingClientRect().top - a.offset;
    if (dy !== 0) s.scrollTop += dy;
    // Not a move of the reader's: the next scroll event must not read it as one.
    lastTop.current = s.scrollTop;
  }, []);

  const moveWindow = useCallback(
    (next: Span) => {
      rememberAnchor();
      setSpan(next);
    },
    [rememberAnchor],
  );

  // Place the view once the first messages are in: at the focused message, the unread
  // line, or the bottom.
  useLayoutEffect(() => {
    if (th.loading || positioned.current) return;
    const s = scroller.current;
    if (!s) return;
    // The message to open at must be in the window first.
    const want = focusMessageId ? indexOf.get(focusMessageId) : undefined;
    if (want !== undefined && (want < bounds.start || want >= bounds.end)) {
      setSpan(spanAround(msgs, want));
      return;
    }
    positioned.current = true;
    const target = focusMessageId ? document.getElementById(`msg-${focusMessageId}`) : unreadAnchor ? s.querySelector('.unread-line') : null;
    if (target) {
      target.scrollIntoView?.({ block: focusMessageId ? 'center' : 'start' });
      atBottomRef.current = false;
    } else scrollToBottom();
    lastKey.current = msgs[msgs.length - 1]?.id;
    rememberAnchor();
  }, [th.loading, msgs, indexOf, bounds.start, bounds.end, focusMessageId, unreadAnchor, scrollToBottom, rememberAnchor]);

  // Rows that came or went above what is on screen (the window moved, older messages, the
  // spinner on top) leave it in place; older messages loaded while the window was at the top
  // come into it at once.
  const firstShown = msgs[bounds.start]?.id;
  useLayoutEffect(() => {
    const s = scroller.current;
    if (!s || !positioned.current) return;
    restoreAnchor();
    if (th.prepended !== prependSeen.current) {
      prependSeen.current = th.prepended;
      if (bounds.start > 0 && s.scrollTop < EDGE) moveWindow(spanUp(msgs, bounds));
    }
  }, [firstShown, span, th.prepended, th.loadingOlder]); // eslint-disable-line react-hooks/exhaustive-deps

  // A new message at the bottom scrolls into view when the reader was at the newest (or wrote it).
  useLayoutEffect(() => {
    if (!positioned.current) return;
    const last = msgs[msgs.length - 1];
    if (last && last.id !== lastKey.current) {
      lastKey.current = last.id;
      if ((atBottomRef.current && atEndRef.current) || (isMine(last, user.id) && isLocal(last))) scrollToBottom();
      else if (fromOtherSide(last, user.id)) setNewBelow((n) => n + 1);
    }
  }, [msgs, user.id, scrollToBottom]);

  // A jump to a message: once the window has it, scroll to it, highlight it, focus its actions.
  const finishJump = useCallback((id: string): boolean => {
    const el = document.getElementById(`msg-${id}`);
    if (!el) return false;
    el.scrollIntoView?.({ block: 'center', behavior: 'smooth' });
    setHighlight(id);
    el.querySelector<HTMLElement>('.msg-actions button')?.focus({ preventScroll: true });
    return true;
  }, []);
  useLayoutEffect(() => {
    const id = pendingJump.current;
    if (id && finishJump(id)) pendingJump.current = undefined;
  });

  // Images and players that load later must not push the newest message out of view.
  useEffect(() => {
    const c = content.current;
    if (!c || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottomRef.current && atEndRef.current && positioned.current) scrollToBottom();
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
        if (v && atEndRef.current) setNewBelow(0);
      },
      { root: s, rootMargin: `0px 0px ${NEAR_BOTTOM}px 0px` },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [th.loading]);

  // Going up near the window's top: it moves up, or older messages load once it has the
  // oldest; going down near its bottom: it moves down, or newer messages load (a thread opened
  // at a search result). The direction keeps a move from undoing the one before.
  const onScroll = () => {
    const s = scroller.current;
    if (!s || !positioned.current) return;
    rememberAnchor();
    const down = s.scrollTop > lastTop.current;
    lastTop.current = s.scrollTop;
    const below = s.scrollHeight - s.scrollTop - s.clientHeight;
    if (!down && s.scrollTop < EDGE && bounds.start > 0) moveWindow(spanUp(msgs, bounds));
    else if (s.scrollTop < NEAR_TOP && bounds.start === 0 && th.hasOlder && !th.loadingOlder) void th.loadOlder();
    else if (down && below < EDGE && !atEnd) moveWindow(spanDown(msgs, bounds));
    else if (below < NEAR_BOTTOM * 3 && atEnd && th.hasNewer) void th.loadNewer();
  };

  // Read receipts: only while really read.
  useEffect(() => {
    if (!th.loading && th.initialUnread > 0) pendingRead.current = true;
  }, [th.loading, th.initialUnread]);
  useEffect(() => {
    if (th.incoming > 0) pendingRead.current = true;
  }, [th.incoming]);
  useEffect(() => {
    if (th.loading || !pendingRead.current || !visible || !atBottom || !atEnd || th.hasNewer) return;
    const newest = newestStored(msgs);
    if (!newest || newest.id === lastRead.current) return;
    pendingRead.current = false;
    lastRead.current = newest.id;
    th.markRead(newest.id);
  }, [th.loading, visible, atBottom, atEnd, th.hasNewer, msgs, th.incoming, th]);

  // Highlight a message for a moment (search results, jumps to a quoted message).
  useEffect(() => {
    if (!highlight) return;
    const tm = setTimeout(() => setHighlight(undefined), 2500);
    return () => clearTimeout(tm);
  }, [highlight]);

  const { loadOlder } = th;
  const jumpTo = useCallback(
    async (id: string) => {
      // Loaded (rendered or not), or in one of the next few older pages.
      for (let i = 0; live.current.indexOf.get(id) === undefined && i < 5 && live.current.hasOlder; i++) {
        await loadOlder();
        await new Promise((r) => requestAnimationFrame(() => r(null)));
      }
      const { msgs: list, bounds: b, indexOf: at } = live.current;
      const index = at.get(id);
      if (index === undefined) {
        toast(t('originalNotLoaded'), 'info');
        return;
      }
      if (index >= b.start && index < b.end && finishJump(id)) return;
      pendingJump.current = id;
      moveWindow(spanAround(list, index));
    },
    [loadOlder, moveWindow, finishJump, t],
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
    setSpan(null);
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
                {th.hasOlder ? (
                  th.loadingOlder ? (
                    <Spinner label={t('loadingOlder')} />
                  ) : null
                ) : (
                  msgs.length > 0 && bounds.start === 0 && <span className="muted small">{t('startOfConversation')}</span>
                )}
              </div>
              {msgs.length === 0 && <Empty title={t('noMessages')} />}
              {shownRows.map((r) =>
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
                    onReact={th.react}
                    onJump={jumpTo}
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
      {!th.loading && (!atBottom || !atEnd || th.hasNewer) && (
        <button
          type="button"
          className="jump-latest"
          aria-label={t('jumpToLatest')}
          onClick={() => {
            setSpan(null);
            if (th.hasNewer) void th.jumpToLatest().then(() => requestAnimationFrame(scrollToBottom));
            else requestAnimationFrame(scrollToBottom);
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
