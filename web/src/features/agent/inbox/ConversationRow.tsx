// One row of the inbox: who (with the channel), the last message (with "You: " for ours),
// when, how many unread, the listing's thumbnail when the conversation is about one, and —
// for an agency admin, whose inbox is every agent's — the agent whose conversation it is.
import { memo } from 'react';
import { useT } from '../../../i18n';
import { formatListTime } from '../../../lib/format';
import { Link } from '../../../router';
import { Avatar } from '../../../ui/controls';
import { useFileUrl } from '../../../ui/files';
import { listingThumb, useListing } from '../../chat/listing';
import { m as cat } from './messages';
import { displayName, type ConversationView } from './listModel';
import { ownMessages, typingIn } from './useConversations';
import { useStore } from '../../../lib/store';

export function ChannelIcon({ channel }: { channel: string }) {
  const t = useT(cat);
  const label = channel === 'whatsapp' ? t('whatsapp') : t('inApp');
  return (
    <span className={`channel-icon channel-icon-${channel}`} title={label}>
      {channel === 'whatsapp' ? (
        <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
          <path
            d="M12 2.5a9.5 9.5 0 00-8.2 14.3L2.5 21.5l4.8-1.3A9.5 9.5 0 1012 2.5zm4.6 13.1c-.2.6-1.1 1.1-1.6 1.2-.4.1-1 .1-1.6-.1-3-1-5-4-5.2-4.2-.2-.2-1.2-1.6-1.2-3s.7-2.1 1-2.4c.3-.3.6-.3.8-.3h.6c.2 0 .4 0 .6.5l.8 2c.1.2.1.4 0 .5l-.4.6-.4.4c-.1.1-.3.3-.1.6.2.3.8 1.3 1.7 2.1 1.2 1 2.1 1.3 2.4 1.5.3.1.5.1.6-.1l.8-1c.2-.3.4-.2.7-.1l1.9.9c.3.1.5.2.5.3.1.2.1.8-.1 1.6z"
            fill="currentColor"
          />
        </svg>
      ) : (
        <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
          <path d="M4 4h16v12H8l-4 4V4z" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinejoin="round" />
        </svg>
      )}
      <span className="visually-hidden">{label}</span>
    </span>
  );
}

function ListingThumb({ propertyId, title }: { propertyId: string; title: string | null | undefined }) {
  const t = useT(cat);
  const l = useListing(propertyId);
  const img = useFileUrl(listingThumb(l));
  return (
    <span className="row-listing" title={t('aboutListing', { title: title ?? l?.title ?? '' })}>
      {img.url ? <img src={img.url} alt={t('aboutListing', { title: title ?? l?.title ?? '' })} /> : <span aria-hidden="true">🏠</span>}
    </span>
  );
}

export const ConversationRow = memo(function ConversationRow({
  c,
  active,
  meId,
  focusable,
  showAgent = false,
}: {
  c: ConversationView;
  active: boolean;
  meId: string;
  focusable: boolean;
  /** Name the conversation's agent (the viewer sees more agents' conversations than their own). */
  showAgent?: boolean;
}) {
  const t = useT(cat);
  const name = displayName(c, t('unknownContact'));
  const last = c.last_message;
  // Our own message: on WhatsApp every `out` is the agent's; in the app only ones we saw.
  const mine = !!last && (ownMessages.has(last.id) || (c.channel === 'whatsapp' && last.direction === 'out' && c.agent_id === meId));
  const unread = c.unread_count;
  const typing = useStore(typingIn, (s) => s.has(c.id));
  const SERVER_WORDS: Record<string, 'pPhoto' | 'pVideo' | 'pAudio' | 'pLocation' | 'pContact' | 'pFile' | 'pDeleted'> = {
    Photo: 'pPhoto',
    Video: 'pVideo',
    Audio: 'pAudio',
    Location: 'pLocation',
    'Contact card': 'pContact',
    File: 'pFile',
    'Message deleted': 'pDeleted',
  };
  const word = last && (last.kind !== 'text' || last.preview === 'Message deleted') ? SERVER_WORDS[last.preview] : undefined;
  const preview = word ? t(word) : last?.preview;
  return (
    <Link
      to={`/inbox/${c.id}`}
      className={`conv-row${active ? ' active' : ''}${unread > 0 ? ' unread' : ''}`}
      aria-current={active ? 'page' : undefined}
      tabIndex={focusable ? 0 : -1}
      data-conversation-id={c.id}
    >
      <Avatar name={name} size={48} />
      <span className="conv-main">
        <span className="conv-top">
          <span className="conv-name truncate">{name}</span>
          {showAgent && (
            <span className="conv-agent truncate" title={c.agent_name}>
              <span className="visually-hidden">{t('agentLabel')} </span>
              {c.agent_name}
            </span>
          )}
          <time className="conv-time" dateTime={last?.sent_at ?? c.last_message_at ?? c.created_at}>
            {formatListTime(last?.sent_at ?? c.last_message_at ?? c.created_at)}
          </time>
        </span>
        <span className="conv-bottom">
          <ChannelIcon channel={c.channel} />
          {c.status === 'archived' && <span className="tag">{t('archivedTag')}</span>}
          {c.status === 'closed' && <span className="tag tag-bad">{t('closedTag')}</span>}
          <span className="conv-preview truncate">
            {typing ? (
              <span className="conv-typing">{t('typing')}</span>
            ) : last ? (
              <>
                {mine && <span className="conv-you">{t('you')}</span>}
                {preview}
              </>
            ) : (
              <span className="muted">{t('noMessagesYet')}</span>
            )}
          </span>
          {unread > 0 && (
            <span className="badge" aria-label={t('unreadBadge', { n: unread })}>
              {unread > 99 ? '99+' : unread}
            </span>
          )}
        </span>
      </span>
      {c.property_id && <ListingThumb propertyId={c.property_id} title={c.property_title} />}
    </Link>
  );
});
