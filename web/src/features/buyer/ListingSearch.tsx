// Browse and search homes: words, city, type and a price range (all in the URL, so Back
// steps through searches), results as photo cards, endless scroll with a "load more" button.
import { useEffect, useLayoutEffect, useState, type FormEvent } from 'react';
import { api, unwrap } from '../../api/client';
import { problemMessage } from '../../api/problem';
import { Link, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Empty, ErrorText, Spinner } from '../../ui/controls';
import { m } from './messages';
import { listingWords } from '../listings/messages';
import { ListingPhoto } from '../listings/Photo';
import { PROPERTY_TYPES, formatPrice } from '../listings/price';
import { usePaged, useSentinel, type PageCache } from '../listings/usePaged';
import type { Listing } from '../listings/form';
import { activeFilterCount, apiQuery, filtersFromQuery, filtersToQuery, noFilters, type Filters } from './filters';

const PAGE = 20;
const cache: PageCache<Listing> = new Map();
const scrollTops = new Map<string, number>();
let last = '';
/** The query of the search the buyer last looked at ('' for all homes). */
export const lastSearch = () => last;

/** Cities of the homes seen so far (the API matches a city exactly, so suggest real ones). */
function knownCities(current: Listing[]): string[] {
  const seen = new Map<string, string>();
  for (const l of [...current, ...[...cache.values()].flatMap((p) => p.items)]) {
    const k = l.city.toLocaleLowerCase();
    if (!seen.has(k)) seen.set(k, l.city);
  }
  return [...seen.values()].sort((a, b) => a.localeCompare(b)).slice(0, 200);
}

function scroller(): HTMLElement | null {
  return document.getElementById('main');
}

export function ListingSearch() {
  const t = useT(m);
  const tc = useT(common);
  const tw = useT(listingWords);
  const { query } = useRoute();
  const filters = filtersFromQuery(query);
  const key = filtersToQuery(filters);
  last = key;
  const [draft, setDraft] = useState<Filters>(filters);
  const [showFilters, setShowFilters] = useState(false);
  useEffect(() => setDraft(filtersFromQuery(query)), [key]); // eslint-disable-line react-hooks/exhaustive-deps

  const pages = usePaged<Listing>(
    key,
    (cursor) =>
      unwrap(api.GET('/api/v1/properties', { params: { query: { ...apiQuery(filters), limit: PAGE, ...(cursor ? { cursor } : {}) } } })),
    cache,
  );
  const sentinel = useSentinel(pages.loadMore, pages.hasMore && !pages.loading && !pages.error);

  // Coming Back to a search: where the person was in the list (recorded while scrolling,
  // since by the time this page unmounts the next one may already be in the DOM).
  useLayoutEffect(() => {
    const el = scroller();
    if (!el || pages.loading) return;
    el.scrollTop = scrollTops.get(key) ?? 0;
    const record = () => scrollTops.set(key, el.scrollTop);
    el.addEventListener('scroll', record, { passive: true });
    return () => el.removeEventListener('scroll', record);
  }, [key, pages.loading]);

  const apply = (f: Filters) => {
    const q = filtersToQuery(f);
    if (q !== key) navigate(`/listings${q}`);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    apply(draft);
    setShowFilters(false);
  };
  const setField = (k: keyof Filters, v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const nFilters = activeFilterCount(filters);
  const searching = key !== '';
  const count = pages.items.length;

  return (
    <div className="page buyer-browse">
      <h1 className="visually-hidden">{t('browseTitle')}</h1>
      <form className="search-bar card" role="search" onSubmit={submit}>
        <div className="search-row">
          <label className="visually-hidden" htmlFor="buyer-q">
            {t('searchLabel')}
          </label>
          <input
            id="buyer-q"
            className="input search-input"
            type="search"
            enterKeyHint="search"
            placeholder={t('searchPlaceholder')}
            value={draft.q}
            onChange={(e) => setField('q', e.target.value)}
          />
          <button type="submit" className="btn btn-primary search-go" aria-label={t('searchButton')}>
            <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
              <path fill="currentColor" d="M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10z" />
            </svg>
            <span className="search-go-text">{t('searchButton')}</span>
          </button>
          <button
            type="button"
            className={`btn search-filters-toggle${nFilters ? ' chip-on' : ''}`}
            aria-expanded={showFilters}
            aria-controls="buyer-filters"
            onClick={() => setShowFilters((s) => !s)}
          >
            {nFilters ? t('filtersN', { n: nFilters }) : t('filters')}
          </button>
        </div>
        <div id="buyer-filters" className={`search-filters${showFilters ? ' search-filters-open' : ''}`}>
          <div className="field">
            <label htmlFor="buyer-city">{t('city')}</label>
            <input id="buyer-city" className="input" list="buyer-cities" autoComplete="off" placeholder={t('cityPlaceholder')} value={draft.city} onChange={(e) => setField('city', e.target.value)} />
            <datalist id="buyer-cities">
              {knownCities(pages.items).map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          </div>
          <div className="field">
            <label htmlFor="buyer-type">{t('type')}</label>
            <select
              id="buyer-type"
              className="input"
              value={draft.type}
              onChange={(e) => {
                const next = { ...draft, type: e.target.value as Filters['type'] };
                setDraft(next);
                apply(next);
              }}
            >
              <option value="">{t('anyType')}</option>
              {PROPERTY_TYPES.map((p) => (
                <option key={p} value={p}>
                  {tw(`type_${p}`)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="buyer-min">{t('minPrice')}</label>
            <input id="buyer-min" className="input" inputMode="numeric" placeholder={t('noLimit')} value={draft.min} onChange={(e) => setField('min', e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="buyer-max">{t('maxPrice')}</label>
            <input id="buyer-max" className="input" inputMode="numeric" placeholder={t('noLimit')} value={draft.max} onChange={(e) => setField('max', e.target.value)} />
          </div>
          <div className="search-filters-actions">
            <button type="submit" className="btn btn-primary">
              {t('apply')}
            </button>
            {searching && (
              <button
                type="button"
                className="btn btn-ghost"
                onClick={() => {
                  setDraft(noFilters);
                  apply(noFilters);
                  setShowFilters(false);
                }}
              >
                {t('clear')}
              </button>
            )}
          </div>
        </div>
      </form>

      {pages.loading ? (
        <div className="pl-center">
          <Spinner />
        </div>
      ) : pages.error && count === 0 ? (
        <div className="card">
          <ErrorText>{problemMessage(pages.error)}</ErrorText>
          <button type="button" className="btn" onClick={pages.reload}>
            {tc('retry')}
          </button>
        </div>
      ) : count === 0 ? (
        searching ? (
          <Empty title={t('noResults')}>
            <p>{t('noResultsBody')}</p>
          </Empty>
        ) : (
          <Empty title={t('noListings')}>
            <p>{t('noListingsBody')}</p>
          </Empty>
        )
      ) : (
        <>
          <p className="muted small results-count" aria-live="polite">
            {count === 1 && !pages.hasMore ? t('oneResult') : pages.hasMore ? t('resultsMore', { n: count }) : t('results', { n: count })}
          </p>
          <ul className="listing-grid">
            {pages.items.map((p) => (
              <ListingCard key={p.id} p={p} />
            ))}
          </ul>
          <div ref={sentinel} className="pl-sentinel" />
          {pages.error ? <ErrorText>{problemMessage(pages.error)}</ErrorText> : null}
          <div className="pl-center">
            {pages.hasMore ? (
              <button type="button" className="btn" onClick={pages.loadMore} disabled={pages.loadingMore}>
                {pages.loadingMore ? t('loadingMore') : tc('loadMore')}
              </button>
            ) : (
              <span className="muted small">{t('endOfList')}</span>
            )}
          </div>
        </>
      )}
    </div>
  );
}

export function ListingCard({ p }: { p: Listing }) {
  const t = useT(m);
  const tw = useT(listingWords);
  const cover = p.photos.slice().sort((a, b) => a.position - b.position)[0]?.file_id;
  return (
    <li className="home-card">
      <Link to={`/listings/${p.id}`} className="home-card-link">
        <span className="home-card-photo">
          <ListingPhoto fileId={cover} alt="" />
        </span>
        <span className="home-card-body">
          <span className="home-card-price">{formatPrice(p.price_cents, p.currency)}</span>
          <span className="home-card-title">{p.title}</span>
          <span className="muted small">
            {tw(`type_${p.property_type}` as 'type_house')} · {p.city}
          </span>
          <span className="muted small truncate">{t('by', { agency: p.agency_name })}</span>
        </span>
      </Link>
    </li>
  );
}
