// One home for a buyer: photos, price, where it is, what it is, the description, the agent
// and agency, and "Message the agent" (continues the conversation when there is one).
import { useState } from 'react';
import { api, unwrap } from '../../api/client';
import { ApiError, problemMessage } from '../../api/problem';
import { Link, navigate } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Avatar, Empty, ErrorText, Spinner } from '../../ui/controls';
import { useAsync } from '../../ui/useAsync';
import { locale } from '../../i18n';
import { toast } from '../../ui/toast';
import { m } from './messages';
import { listingWords } from '../listings/messages';
import { formatPrice } from '../listings/price';
import { Gallery } from './Gallery';
import { existingChat, openChatAbout } from './chatStart';
import { ListingCard, lastSearch } from './ListingSearch';
import { useStartAtTop } from '../listings/scroll';

function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString(locale.get() === 'es' ? 'es-ES' : 'en-GB', { day: 'numeric', month: 'long', year: 'numeric' });
}

export function ListingPage({ id }: { id: string }) {
  useStartAtTop(id);
  const t = useT(m);
  const tc = useT(common);
  const tw = useT(listingWords);
  const listing = useAsync(() => unwrap(api.GET('/api/v1/properties/{id}', { params: { path: { id } } })), [id]);
  const chat = useAsync(() => existingChat(id).catch(() => null), [id]);
  const [opening, setOpening] = useState(false);

  if (listing.loading) {
    return (
      <div className="page pl-center">
        <Spinner />
      </div>
    );
  }
  if (listing.error || !listing.data) {
    const gone = listing.error instanceof ApiError && listing.error.status === 404;
    return (
      <div className="page narrow">
        <p>
          <Link to="/listings" className="pl-back">
            ← {t('backToResults')}
          </Link>
        </p>
        {gone ? (
          <Empty title={t('notAvailable')}>
            <p>{t('notAvailableBody')}</p>
            <Link to="/listings" className="btn btn-primary">
              {t('browseHomes')}
            </Link>
          </Empty>
        ) : (
          <div className="card">
            <ErrorText>{problemMessage(listing.error)}</ErrorText>
            <button type="button" className="btn" onClick={listing.reload}>
              {tc('retry')}
            </button>
          </div>
        )}
      </div>
    );
  }
  const p = listing.data;
  const message = async () => {
    setOpening(true);
    try {
      const conv = chat.data ?? (await openChatAbout(p.id));
      navigate(`/chats/${conv}`);
    } catch (err) {
      toast(problemMessage(err), 'error');
      setOpening(false);
    }
  };

  return (
    <article className="page listing-page" aria-labelledby="listing-title">
      <p className="listing-back">
        <Link to={`/listings${lastSearch()}`} className="pl-back">
          ← {t('backToResults')}
        </Link>
      </p>
      <div className="listing-layout">
        <div className="listing-media">
          <Gallery photos={p.photos} title={p.title} />
        </div>
        <div className="listing-info">
          <p className="listing-price">
            <span className="visually-hidden">{t('priceLabel')}: </span>
            {formatPrice(p.price_cents, p.currency)}
          </p>
          <h1 id="listing-title" className="listing-title">
            {p.title}
          </h1>
          <p className="listing-where">
            {[p.address, p.city].filter(Boolean).join(', ')}
          </p>
          <dl className="facts">
            <dt>{t('type')}</dt>
            <dd>{tw(`type_${p.property_type}` as 'type_house')}</dd>
            <dt>{t('city')}</dt>
            <dd>{p.city}</dd>
            {p.address && (
              <>
                <dt>{t('address')}</dt>
                <dd>{p.address}</dd>
              </>
            )}
            <dt>{t('listedOn')}</dt>
            <dd>{formatDate(p.created_at)}</dd>
          </dl>
          <section className="card agent-card" aria-labelledby="agent-h">
            <h2 id="agent-h" className="small muted">
              {t('agentCard')}
            </h2>
            <div className="row">
              <Avatar name={p.agent_name} size={48} />
              <div className="grow">
                <strong>{p.agent_name}</strong>
                <div className="muted small">{p.agency_name}</div>
              </div>
            </div>
            <div className="message-cta">
              <button type="button" className="btn btn-primary btn-block" disabled={opening || chat.loading} onClick={() => void message()}>
                {opening ? t('opening') : chat.data ? t('continueChat') : t('message')}
              </button>
            </div>
          </section>
        </div>
      </div>
      {p.description && (
        <section className="listing-description" aria-labelledby="desc-h">
          <h2 id="desc-h">{t('description')}</h2>
          <p className="home-prewrap">{p.description}</p>
        </section>
      )}
      <MoreFromAgent agentId={p.agent_id} agentName={p.agent_name} exclude={p.id} />
    </article>
  );
}

/** Other active homes of the same agent: a buyer who likes one often asks about another. */
function MoreFromAgent({ agentId, agentName, exclude }: { agentId: string; agentName: string; exclude: string }) {
  const t = useT(m);
  const more = useAsync(
    () => unwrap(api.GET('/api/v1/properties', { params: { query: { agent_id: agentId, limit: 5 } } })).then((r) => r.items.filter((x) => x.id !== exclude).slice(0, 4)),
    [agentId, exclude],
  );
  if (!more.data?.length) return null;
  return (
    <section className="more-homes" aria-labelledby="more-h">
      <h2 id="more-h">{t('moreFrom', { name: agentName })}</h2>
      <ul className="listing-grid">
        {more.data.map((x) => (
          <ListingCard key={x.id} p={x} />
        ))}
      </ul>
    </section>
  );
}
