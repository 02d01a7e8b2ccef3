import { describe, expect, it } from 'vitest';
import { activeFilterCount, apiQuery, filtersFromQuery, filtersToQuery, noFilters } from './filters';

describe('search filters ↔ URL query', () => {
  it('reads what the URL says and ignores what it cannot use', () => {
    const f = filtersFromQuery(new URLSearchParams('q=%20garden%20&city=Madrid&type=castle&min=100.000&max=abc'));
    expect(f).toEqual({ q: 'garden', city: 'Madrid', type: '', min: '100000', max: '' });
  });

  it('writes a stable query without empty filters', () => {
    expect(filtersToQuery(noFilters)).toBe('');
    expect(filtersToQuery({ q: 'casa playa', city: ' Málaga ', type: 'house', min: '', max: '350000' })).toBe(
      '?q=casa+playa&city=M%C3%A1laga&type=house&max=350000',
    );
  });

  it('round-trips', () => {
    const q = '?q=terrace&city=Sevilla&type=apartment&min=90000&max=200000';
    expect(filtersToQuery(filtersFromQuery(new URLSearchParams(q)))).toBe(q);
  });

  it('asks the API in cents, swapping bounds given the wrong way round', () => {
    expect(apiQuery({ q: 'x', city: '', type: 'land', min: '300000', max: '100000' })).toEqual({
      q: 'x',
      type: 'land',
      min_price: 10_000_000,
      max_price: 30_000_000,
    });
    expect(apiQuery(noFilters)).toEqual({});
  });

  it('counts the filters beyond the words', () => {
    expect(activeFilterCount({ q: 'a', city: 'b', type: 'house', min: '', max: '5' })).toBe(3);
  });
});
