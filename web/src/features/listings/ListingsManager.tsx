// Staff: their listings (agency admins also the whole agency's), with status filter and
// search kept in the URL; create, edit, retire / publish again, and the photos of each.
//   /listings            the list   (?view=agency&status=sold&q=…)
//   /listings/new        a new listing
//   /listings/:id        edit one (form, publication, photos)
import { useEffect, useState } from 'react';
import type { User } from '../../session/session';
import { api, unwrap } from '../../api/client';
import { problemMessage } from '../../api/problem';
import { Link, match, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Empty, ErrorText, Spinner } from '../../ui/controls';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { formatListTime } from '../../lib/format';
import { m, listingWords } from './messages';
import { formatPrice } from './price';
import { ListingPhoto } from './Photo';
import { ListingEditor } from './ListingEditor';
import { usePaged, useSentinel } from './usePaged';
import type { Listing } from './form';
import './listings.css';

const STATUSES = ['active', 'pending', 'sold', 'inactive'] as const;

export function ListingsManager({ user }: { user: User }) {
  const { path } = useRoute();
  if (path === '/listings/new') {
    return (
      <ErrorBoundary inline>
        <ListingEditor user={user} id={null} />
      </ErrorBoundary>
    );
  }
  const one = match('/listings/:id', path);
  if (one?.id) {
    return (
      <ErrorBoundary inline>
        <ListingEditor key={one.id} user={user} id={one.id} />
      </ErrorBoundary>
    );
  }
  return <StaffListings user={user} />;
}

function StaffListings({ user }: { user: User }) {
  const t = useT(m);
  const tw = useT(listingWords);
  const tc = useT(common);
  const { query } = useRoute();
  const admin = user.role === 'agency_admin';
  const view = admin && query.get('view') === 'agency' ? 'agency' : 'mine';
  const statusQ = query.get('status');
  const status = STATUSES.find((s) => s === statusQ) ?? '';
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);

  const setQuery = (changes: Record<string, string>, replace = false) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    const s = next.toString();
    navigate(`/listings${s ? `?${s}` : ''}`, { replace });
  };

  // Search as you type, a moment after the last key.
  useEffect(() => {
    if (text.trim() === q.trim()) return;
    const h = setTimeout(() => setQuery({ q: text.trim() }, true), 350);
    return () => clearTimeout(h);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  const key = `${view}|${status}|${q}`;
  const pages = usePaged<Listing>(key, (cursor) =>
    unwrap(
      api.GET('/api/v1/properties', {
        params: {
          query: {
            ...(view === 'agency' ? { agency: true } : { mine: true }),
            ...(status ? { status } : {}),
            ...(q ? { q } : {}),
            ...(cursor ? { cursor } : {}),
            limit: 24,
          },
        },
      }),
    ),
  );
  const sentinel = useSentinel(pages.loadMore, pages.hasMore && !pages.loading);
  const filtered = !!status || !!q;

  return (
    <div className="page listings-page">
      <div className="row-between listings-head">
        <h1>{t('title')}</h1>
        <Link to="/listings/new" className="btn btn-primary">
          + {t('newListing')}
        </Link>
      </div>

      <div className="listings-toolbar">
        {admin && (
          <div className="row" role="group" aria-label={t('viewLabel')}>
            <button type="button" className="chip" aria-pressed={view === 'mine'} onClick={() => setQuery({ view: '' })}>
              {t('mine')}
            </button>
            <button type="button" className="chip" aria-pressed={view === 'agency'} onClick={() => setQuery({ view: 'agency' })}>
              {t('agency')}
            </button>
          </div>
        )}
        <div className="row" role="group" aria-label={t('statusLabel')}>
          <button type="button" className="chip" aria-pressed={status === ''} onClick={() => setQuery({ status: '' })}>
            {t('allStatuses')}
          </button>
          {STATUSES.map((s) => (
            <button key={s} type="button" className="chip" aria-pressed={status === s} onClick={() => setQuery({ status: s })}>
              {tw(`status_${s}`)}
            </button>
          ))}
        </div>
        <form
          className="listings-search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ q: text.trim() });
          }}
        >
          <label className="visually-hidden" htmlFor="staff-listing-q">
            {t('searchLabel')}
          </label>
          <input id="staff-listing-q" className="input" type="search" value={text} placeholder={t('searchPlaceholder')} onChange={(e) => setText(e.target.value)} />
        </form>
      </div>

      {pages.loading ? (
        <div className="pl-center">
          <Spinner />
        </div>
      ) : pages.error && pages.items.length === 0 ? (
        <div className="card">
          <ErrorText>{problemMessage(pages.error)}</ErrorText>
          <button type="button" className="btn" onClick={pages.reload}>
            {tc('retry')}
          </button>
        </div>
      ) : pages.items.length === 0 ? (
        filtered ? (
          <Empty title={t('emptyFiltered')}>
            <p>{t('emptyFilteredBody')}</p>
          </Empty>
        ) : (
          <Empty title={t('emptyMine')}>
            <p>{t('emptyMineBody')}</p>
            <Link to="/listings/new" className="btn btn-primary">
              {t('newListing')}
            </Link>
          </Empty>
        )
      ) : (
        <>
          <p className="visually-hidden" aria-live="polite">
            {t('nListings', { n: pages.items.length })}
          </p>
          <ul className="staff-listings" aria-label={t('title')}>
            {pages.items.map((p) => (
              <StaffListingRow key={p.id} p={p} showAgent={view === 'agency'} />
            ))}
          </ul>
          <div ref={sentinel} />
          {pages.error ? <ErrorText>{problemMessage(pages.error)}</ErrorText> : null}
          {pages.hasMore && (
            <div className="pl-center">
              <button type="button" className="btn" onClick={pages.loadMore} disabled={pages.loadingMore}>
                {pages.loadingMore ? tc('loading') : tc('loadMore')}
              </button>
            </div>
          )}
        </>
      )}
    </div>
  );
}

export function statusTone(s: string): string {
  return s === 'active' ? 'tag-ok' : s === 'pending' ? 'tag-warn' : s === 'sold' ? 'tag-bad' : '';
}

function StaffListingRow({ p, showAgent }: { p: Listing; showAgent: boolean }) {
  const t = useT(m);
  const tw = useT(listingWords);
  const cover = p.photos[0]?.file_id;
  return (
    <li className="staff-listing card">
      <Link to={`/listings/${p.id}`} className="staff-listing-link">
        <ListingPhoto fileId={cover} alt="" className="staff-listing-thumb" />
        <span className="staff-listing-main">
          <span className="staff-listing-title">{p.title}</span>
          <span className="muted small">
            {tw(`type_${p.property_type}` as 'type_house')} · {p.city}
            {p.address ? ` · ${p.address}` : ''}
          </span>
          <span className="row small">
            <span className={`tag ${statusTone(p.status)}`}>{tw(`status_${p.status}` as 'status_active')}</span>
            <span className="muted">{p.photos.length === 1 ? t('onePhoto') : t('photos', { n: p.photos.length })}</span>
            {showAgent && <span className="muted">{t('agentName', { name: p.agent_name })}</span>}
            <span className="muted">{t('updated', { when: formatListTime(p.updated_at) })}</span>
          </span>
        </span>
        <span className="staff-listing-price">{formatPrice(p.price_cents, p.currency)}</span>
      </Link>
    </li>
  );
}
