// One message: its bubble (in, out or an internal note), what it quotes, its media, its
// time, ticks and edit/delete marks, its reactions, and the actions on it (reply, react,
// copy, edit, delete; retry when it failed).
import { Fragment, memo, useState, type ReactNode } from 'react';
import { useT } from '../../i18n';
import { formatDateTime, formatTime } from '../../lib/format';
import { m as cat } from './messages';
import { MessageMedia } from './Media';
import { Menu } from './Menu';
import { groupReactions, isLocal, tickOf, type Msg, type Tick } from './model';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export interface BubbleProps {
  msg: Msg;
  meId: string;
  mine: boolean;
  first: boolean;
  highlight: boolean;
  /** Name of the other side, for quotes. */
  otherName: string;
  quoted: Msg | undefined;
  readUpTo: number | undefined;
  canChange: boolean;
  canReply: boolean;
  onReply: (m: Msg) => void;
  onReact: (m: Msg, emoji: string) => void;
  onJump: (id: string) => void;
  onRetry: (m: Msg) => void;
  onDiscard: (m: Msg) => void;
  onEdit: (m: Msg, body: string) => Promise<boolean>;
  onDelete: (m: Msg) => void;
  retried: boolean;
}

const URL_RE = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])/g;

/** Text with its web addresses as links (never HTML from the message). */
export function Linkified({ text }: { text: string }) {
  const parts = text.split(URL_RE);
  return (
    <>
      {parts.map((p, i) =>
        i % 2 === 1 ? (
          <a key={i} href={p} target="_blank" rel="noopener noreferrer">
            {p}
          </a>
        ) : (
          <Fragment key={i}>{p}</Fragment>
        ),
      )}
    </>
  );
}

export function Ticks({ tick }: { tick: Tick }) {
  const t = useT(cat);
  const label = {
    sending: t('tickSending'),
    pending: t('tickPending'),
    sent: t('tickSent'),
    delivered: t('tickDelivered'),
    read: t('tickRead'),
    failed: t('tickFailed'),
  }[tick];
  let icon: ReactNode;
  if (tick === 'sending' || tick === 'pending') {
    icon = (
      <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
        <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeWidth="1.6" />
        <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
      </svg>
    );
  } else if (tick === 'sent') {
    icon = (
      <svg viewBox="0 0 16 16" width="16" height="14" aria-hidden="true">
        <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    );
  } else if (tick === 'failed') {
    icon = (
      <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
        <circle cx="8" cy="8" r="7" fill="currentColor" />
        <path d="M8 4v5M8 11.2v.3" stroke="#fff" strokeWidth="1.8" strokeLinecap="round" />
      </svg>
    );
  } else {
    icon = (
      <svg viewBox="0 0 20 16" width="19" height="14" aria-hidden="true">
        <path d="M1.5 8.5l3 3 7-7M8 11.5l7-7" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    );
  }
  return (
    <span className={`ticks ticks-${tick}`} title={label} data-tick={tick}>
      {icon}
      <span className="visually-hidden">{label}</span>
    </span>
  );
}

function snippet(m: Msg, t: ReturnType<typeof useT<keyof typeof cat.en>>): string {
  if (m.deleted_at) return t('deleted');
  if (m.body) return m.body.length > 140 ? `${m.body.slice(0, 140)}…` : m.body;
  switch (m.kind) {
    case 'image':
      return `📷 ${t('photo')}`;
    case 'video':
      return `🎬 ${t('video')}`;
    case 'voice':
      return `🎤 ${t('voice')}`;
    case 'audio':
      return `🎵 ${t('audio')}`;
    case 'location':
      return `📍 ${t('location')}`;
    default:
      return `📄 ${m.media?.file_name ?? t('file')}`;
  }
}

export const Bubble = memo(function Bubble(p: BubbleProps) {
  const t = useT(cat);
  const { msg } = p;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const note = msg.kind === 'note';
  const system = msg.kind === 'system';
  const deleted = !!msg.deleted_at;
  const tick = tickOf(msg, p.readUpTo);
  const failed = tick === 'failed';
  const reactions = groupReactions(msg, p.meId);
  const local = isLocal(msg);

  if (system) {
    return (
      <div className="msg-system" id={`msg-${msg.id}`}>
        <span>{msg.body}</span>
      </div>
    );
  }

  const actionsAllowed = !local && !deleted;
  const startEdit = () => {
    setDraft(msg.body ?? '');
    setEditing(true);
  };
  const saveEdit = async () => {
    const body = draft.trim();
    if (!body || body === msg.body) {
      setEditing(false);
      return;
    }
    if (await p.onEdit(msg, body)) setEditing(false);
  };

  const quoteName = p.quoted ? (p.quoted.author_user_id === p.meId ? t('you') : p.otherName) : '';
  const time = formatTime(msg.sent_at);

  return (
    <div
      className={`msg-row ${p.mine ? 'msg-out' : 'msg-in'}${note ? ' msg-note' : ''}${p.first ? ' msg-first' : ''}${p.highlight ? ' msg-highlight' : ''}`}
      id={`msg-${msg.id}`}
      data-message-id={msg.id}
      data-status={tick}
    >
      <div className="msg-col">
        <div className="bubble">
          {note && (
            <div className="note-label">
              <span aria-hidden="true">🔒 </span>
              {t('internalNote')}
            </div>
          )}
          {msg.reply_to_id && (
            <button type="button" className="quote" onClick={() => msg.reply_to_id && p.onJump(msg.reply_to_id)}>
              {p.quoted ? (
                <>
                  <span className="quote-name">{quoteName}</span>
                  <span className="quote-text">{snippet(p.quoted, t)}</span>
                </>
              ) : (
                <span className="quote-text">{t('originalNotLoaded')}</span>
              )}
            </button>
          )}
          {!deleted && <MessageMedia msg={msg} />}
          {editing ? (
            <div className="edit-box">
              <label className="visually-hidden" htmlFor={`edit-${msg.id}`}>
                {t('editMessage')}
              </label>
              <textarea
                id={`edit-${msg.id}`}
                className="input"
                value={draft}
                autoFocus
                maxLength={6000}
                onChange={(e) => setDraft(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
                    e.preventDefault();
                    void saveEdit();
                  } else if (e.key === 'Escape') {
                    e.preventDefault();
                    e.stopPropagation();
                    setEditing(false);
                  }
                }}
              />
              <div className="row">
                <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(false)}>
                  {t('discard')}
                </button>
                <button type="button" className="btn btn-small btn-primary" onClick={() => void saveEdit()}>
                  {t('saveEdit')}
                </button>
              </div>
            </div>
          ) : deleted ? (
            <p className="msg-body msg-deleted">
              <span aria-hidden="true">⊘ </span>
              {t('deleted')}
            </p>
          ) : msg.body ? (
            <p className="msg-body">
              <Linkified text={msg.body} />
            </p>
          ) : null}
          <span className="msg-meta">
            {msg.edited_at && !deleted && <span className="msg-edited">{t('edited')}</span>}
            <time dateTime={msg.sent_at} title={formatDateTime(msg.sent_at)}>
              {time}
            </time>
            {p.mine && !note && <Ticks tick={tick} />}
          </span>
        </div>
        {failed && !p.retried && (
          <div className="msg-failed" role="alert">
            <span>{msg.local?.error ?? failureText(msg.failure_reason, t)}</span>
            <button type="button" className="btn btn-small" onClick={() => p.onRetry(msg)}>
              {t('failedRetry')}
            </button>
            {local && (
              <button type="button" className="btn btn-small btn-ghost" onClick={() => p.onDiscard(msg)}>
                {t('discard')}
              </button>
            )}
          </div>
        )}
        {reactions.length > 0 && (
          <div className="reactions">
            {reactions.map((g) => (
              <button
                key={g.emoji}
                type="button"
                className={`reaction${g.mine ? ' reaction-mine' : ''}`}
                aria-pressed={g.mine}
                aria-label={g.mine ? t('removeReaction', { emoji: g.emoji }) : t('reactWith', { emoji: g.emoji })}
                title={g.mine ? t('reactionCount', { emoji: g.emoji, n: g.count }) : t('reactionCountOthers', { emoji: g.emoji, n: g.count })}
                onClick={() => p.onReact(msg, g.mine ? '' : g.emoji)}
                disabled={!actionsAllowed || note}
              >
                <span aria-hidden="true">{g.emoji}</span>
                {g.count > 1 && <span className="reaction-n">{g.count}</span>}
              </button>
            ))}
          </div>
        )}
      </div>
      {actionsAllowed && !editing && (
        <Menu
          className="msg-actions"
          label={t('messageActions')}
          icon={<span aria-hidden="true">⌄</span>}
          align={p.mine ? 'end' : 'start'}
          extra={
            note
              ? undefined
              : (close) => (
                  <div className="quick-reactions" role="group" aria-label={t('react')}>
                    {QUICK_REACTIONS.map((e) => {
                      const mineNow = reactions.some((g) => g.mine && g.emoji === e);
                      return (
                        <button
                          key={e}
                          type="button"
                          role="menuitem"
                          className={`quick-reaction${mineNow ? ' reaction-mine' : ''}`}
                          aria-label={mineNow ? t('removeReaction', { emoji: e }) : t('reactWith', { emoji: e })}
                          onClick={() => {
                            close();
                            p.onReact(msg, mineNow ? '' : e);
                          }}
                        >
                          {e}
                        </button>
                      );
                    })}
                  </div>
                )
          }
          items={[
            { label: t('reply'), onSelect: () => p.onReply(msg), hidden: note || !p.canReply },
            {
              label: t('copy'),
              hidden: !msg.body || typeof navigator === 'undefined' || !navigator.clipboard,
              onSelect: () => void navigator.clipboard.writeText(msg.body ?? ''),
            },
            { label: t('edit'), onSelect: startEdit, hidden: !p.canChange || !msg.body || tick === 'read' },
            { label: t('delete'), onSelect: () => p.onDelete(msg), danger: true, hidden: !p.canChange || tick === 'read' },
          ]}
        />
      )}
    </div>
  );
});

/** Why a message was not sent, in words (the server's `failure_reason` codes). */
function failureText(reason: string | null | undefined, t: (k: 'tickFailed' | 'failed_link_unavailable' | 'failed_send_rejected' | 'failed_not_supported_by_link') => string): string {
  switch (reason) {
    case 'link_unavailable':
      return t('failed_link_unavailable');
    case 'send_rejected':
      return t('failed_send_rejected');
    case 'not_supported_by_link':
      return t('failed_not_supported_by_link');
    default:
      return t('tickFailed');
  }
}
