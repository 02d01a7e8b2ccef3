// The buyer's conversations with agents: a list (listing photo, agent, last message, time,
// unread badge) kept live from the socket, and the open conversation beside it on wide
// screens or instead of it on phones.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { User } from '../../session/session';
import { api, unwrap, type Schemas } from '../../api/client';
import { problemMessage } from '../../api/problem';
import { Link, navigate } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Empty, ErrorText, Spinner } from '../../ui/controls';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { useAsync } from '../../ui/useAsync';
import { on } from '../../realtime/socket';
import { formatListTime } from '../../lib/format';
import { ListingPhoto } from '../listings/Photo';
import { m } from './messages';
import { BuyerThread } from './BuyerThread';
import { listConversations } from './chatStart';

type Conv = Schemas['ConversationView'];
type Listing = Schemas['PropertyDto'];

/** Phones show the list or the thread, so the thread needs a way back; wide screens show both. */
function useNarrow(): boolean {
  const q = '(max-width: 719px)';
  const get = () => typeof window !== 'undefined' && !!window.matchMedia?.(q).matches;
  const [narrow, setNarrow] = useState(get);
  useEffect(() => {
    const mq = window.matchMedia?.(q);
    if (!mq) return;
    const f = () => setNarrow(mq.matches);
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, []);
  return narrow;
}

export function Chats({ user, openId }: { user: User; openId: string | null }) {
  const t = useT(m);
  const narrow = useNarrow();
  const tc = useT(common);
  const list = useAsync(() => listConversations({ channel: 'in_app', limit: 100 }), []);
  const { reload } = list;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const soon = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(reload, 250);
  }, [reload]);

  useEffect(() => {
    const offs = [
      on('message.created', soon),
      on('message.updated', soon),
      on('conversation.updated', soon),
      on('read', soon),
      on('resync', soon),
      on<{ resumed?: boolean }>('open', (e) => e.data.resumed && soon()),
    ];
    return () => {
      offs.forEach((f) => f());
      clearTimeout(timer.current);
    };
  }, [soon]);

  // Who is typing where, for "typing…" in the list (until the signal expires or stops).
  const [typing, setTyping] = useState<Record<string, number>>({});
  useEffect(
    () =>
      on<{ conversation_id: string; user_id?: string; typing: boolean; expires_in_ms?: number }>('typing', (e) => {
        if (e.data.user_id === user.id) return;
        const id = e.data.conversation_id;
        setTyping((prev) => {
          const next = { ...prev };
          if (e.data.typing) next[id] = Date.now() + (e.data.expires_in_ms ?? 6000);
          else delete next[id];
          return next;
        });
      }),
    [user.id],
  );
  useEffect(() => {
    const ids = Object.keys(typing);
    if (!ids.length) return;
    const soonest = Math.min(...Object.values(typing));
    const h = setTimeout(() => {
      const now = Date.now();
      setTyping((prev) => Object.fromEntries(Object.entries(prev).filter(([, until]) => until > now)));
    }, Math.max(50, soonest - Date.now()));
    return () => clearTimeout(h);
  }, [typing]);
  // A new message ends the sender's typing.
  useEffect(
    () =>
      on<{ conversation_id: string }>('message.created', (e) =>
        setTyping((prev) => {
          if (!(e.data.conversation_id in prev)) return prev;
          const next = { ...prev };
          delete next[e.data.conversation_id];
          return next;
        }),
      ),
    [],
  );

  const items = list.data?.items ?? [];
  return (
    <div className={`buyer-chats${openId ? ' buyer-chats-has-open' : ''}`}>
      <section className="chat-list-pane" aria-labelledby="buyer-chats-h">
        <h1 id="buyer-chats-h" className="chat-list-title">
          {t('chatsTitle')}
        </h1>
        {list.loading && !list.data ? (
          <div className="pl-center">
            <Spinner />
          </div>
        ) : list.error && !list.data ? (
          <div className="card">
            <ErrorText>{problemMessage(list.error)}</ErrorText>
            <button type="button" className="btn" onClick={list.reload}>
              {tc('retry')}
            </button>
          </div>
        ) : items.length === 0 ? (
          <Empty title={t('chatsEmpty')}>
            <p>{t('chatsEmptyBody')}</p>
            <Link to="/listings" className="btn btn-primary">
              {t('browseHomes')}
            </Link>
          </Empty>
        ) : (
          <ul className="chat-list">
            {items.map((c) => (
              <ChatRow key={c.id} c={c} active={c.id === openId} typing={c.id in typing} />
            ))}
          </ul>
        )}
      </section>
      <section className="chat-thread-pane" aria-label={openId ? undefined : t('pickChat')}>
        {openId ? (
          <ErrorBoundary inline>
            <BuyerThread key={openId} user={user} conversationId={openId} onBack={narrow ? () => navigate('/chats') : undefined} />
          </ErrorBoundary>
        ) : (
          <Empty title={t('pickChat')}>
            <p>{t('pickChatBody')}</p>
          </Empty>
        )}
      </section>
    </div>
  );
}

/** Listings by id, fetched once per page view for the list's thumbnails. */
const listingCache = new Map<string, Promise<Listing | null>>();
export function listingOf(id: string): Promise<Listing | null> {
  let p = listingCache.get(id);
  if (!p) {
    p = unwrap(api.GET('/api/v1/properties/{id}', { params: { path: { id } } })).catch(() => null);
    listingCache.set(id, p);
  }
  return p;
}

const KIND_WORDS: Record<string, 'kind_photo' | 'kind_video' | 'kind_audio' | 'kind_location' | 'kind_contact' | 'kind_file'> = {
  Photo: 'kind_photo',
  Video: 'kind_video',
  Audio: 'kind_audio',
  Location: 'kind_location',
  'Contact card': 'kind_contact',
  File: 'kind_file',
};

export function previewText(c: Conv, t: ReturnType<typeof useT<keyof (typeof m)['en']>>): string {
  const lm = c.last_message;
  if (!lm) return t('noMessages');
  let text = lm.preview;
  const word = KIND_WORDS[text];
  if (lm.kind !== 'text' && word) text = t(word);
  if (text === 'Message deleted') text = t('kind_deleted');
  return text;
}

function ChatRow({ c, active, typing }: { c: Conv; active: boolean; typing: boolean }) {
  const t = useT(m);
  const photo = useAsync(() => (c.property_id ? listingOf(c.property_id) : Promise.resolve(null)), [c.property_id]);
  const cover = photo.data?.photos.slice().sort((a, b) => a.position - b.position)[0]?.file_id;
  const name = c.counterpart?.name ?? t('agent');
  const when = c.last_message?.sent_at ?? c.last_message_at ?? c.created_at;
  const unread = c.unread_count;
  return (
    <li>
      <Link to={`/chats/${c.id}`} className={`chat-row${active ? ' chat-row-on' : ''}${unread ? ' chat-row-unread' : ''}`} aria-current={active ? 'page' : undefined}>
        <span className="chat-row-photo">
          <ListingPhoto fileId={cover} alt="" />
        </span>
        <span className="chat-row-main">
          <span className="chat-row-top">
            <span className="chat-row-name truncate">{name}</span>
            <time className="chat-row-time" dateTime={when}>
              {formatListTime(when)}
            </time>
          </span>
          {c.property_title && <span className="chat-row-listing truncate">{c.property_title}</span>}
          <span className="chat-row-bottom">
            {typing ? (
              <span className="chat-row-preview chat-row-typing truncate">{t('typing')}</span>
            ) : (
              <span className="chat-row-preview truncate">{previewText(c, t)}</span>
            )}
            {unread > 0 && (
              <span className="badge" aria-label={t('unread', { n: unread })}>
                {unread > 99 ? '99+' : unread}
              </span>
            )}
          </span>
        </span>
      </Link>
    </li>
  );
}
