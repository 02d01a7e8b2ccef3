// The listing search's filters live in the URL (`/listings?q=garden&city=Madrid&type=house&
// min=100000&max=350000`), so Back and Forward step through searches and a search can be
// shared. Prices in the URL are whole units; the API takes cents.
import { isPropertyType, parsePrice, type PropertyType } from '../listings/price';

export interface Filters {
  q: string;
  city: string;
  type: PropertyType | '';
  /** Whole units as typed ("250000"); empty for no bound. */
  min: string;
  max: string;
}

export const noFilters: Filters = { q: '', city: '', type: '', min: '', max: '' };

export function filtersFromQuery(query: URLSearchParams): Filters {
  const type = query.get('type');
  return {
    q: (query.get('q') ?? '').trim(),
    city: (query.get('city') ?? '').trim(),
    type: isPropertyType(type) ? type : '',
    min: normalPrice(query.get('min')),
    max: normalPrice(query.get('max')),
  };
}

/** A price bound as it goes in the URL: whole units, digits only; '' when not a price. */
function normalPrice(v: string | null | undefined): string {
  if (!v) return '';
  const c = parsePrice(v);
  return c === null ? '' : String(Math.floor(c / 100));
}

/** `?q=…&city=…` in a stable order, without empty filters; '' when there are none. */
export function filtersToQuery(f: Filters): string {
  const p = new URLSearchParams();
  if (f.q.trim()) p.set('q', f.q.trim());
  if (f.city.trim()) p.set('city', f.city.trim());
  if (f.type) p.set('type', f.type);
  const min = normalPrice(f.min);
  const max = normalPrice(f.max);
  if (min) p.set('min', min);
  if (max) p.set('max', max);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface ApiFilters {
  q?: string;
  city?: string;
  type?: string;
  min_price?: number;
  max_price?: number;
}

/** The API's query for these filters (cents). Bounds in the wrong order are swapped. */
export function apiQuery(f: Filters): ApiFilters {
  const out: ApiFilters = {};
  if (f.q) out.q = f.q.slice(0, 200);
  if (f.city) out.city = f.city.slice(0, 100);
  if (f.type) out.type = f.type;
  let lo = f.min ? parsePrice(f.min) : null;
  let hi = f.max ? parsePrice(f.max) : null;
  if (lo !== null && hi !== null && lo > hi) [lo, hi] = [hi, lo];
  if (lo !== null) out.min_price = lo;
  if (hi !== null) out.max_price = hi;
  return out;
}

/** How many filters beyond the text are set (for the "Filters (2)" button). */
export function activeFilterCount(f: Filters): number {
  return [f.city, f.type, f.min, f.max].filter(Boolean).length;
}

export function sameFilters(a: Filters, b: Filters): boolean {
  return filtersToQuery(a) === filtersToQuery(b);
}
