import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeApi, listing } from './testkit';
import { setLocale } from '../../i18n';
import { navigate, route } from '../../router';

vi.hoisted(() => {
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' ? new URL(input, globalThis.location?.href ?? 'http://localhost/') : input, init);
    }
  } as typeof Request;
});

import { ListingSearch } from './ListingSearch';

beforeEach(() => {
  setLocale('en');
  navigate('/listings', { replace: true });
});
afterEach(() => vi.unstubAllGlobals());

describe('the listing search', () => {
  test('a search goes into the URL, asks the API in cents, and Back returns to the previous one', async () => {
    const { calls } = fakeApi({
      'GET /api/v1/properties': (_req: Request, url: URL) =>
        url.searchParams.get('q') === 'rooftop'
          ? { items: [listing()], next_cursor: null }
          : { items: [listing(), listing({ id: 'p2', title: 'Country house', city: 'Ronda', property_type: 'house' })], next_cursor: null },
    });
    render(<ListingSearch />);
    await screen.findByText('Country house');
    expect(screen.getByText('2 homes found')).toBeTruthy();

    fireEvent.change(screen.getByLabelText('What are you looking for?'), { target: { value: 'rooftop' } });
    fireEvent.change(screen.getByLabelText('Max. price'), { target: { value: '500.000' } });
    fireEvent.click(screen.getByRole('button', { name: 'Show results' }));
    await waitFor(() => expect(route.get().query.toString()).toBe('q=rooftop&max=500000'));
    await screen.findByText('1 home found');
    expect(screen.queryByText('Country house')).toBeNull();
    expect(calls.some((c) => c.includes('q=rooftop') && c.includes('max_price=50000000'))).toBe(true);

    history.back();
    await waitFor(() => expect(location.search).toBe(''));
    await screen.findByText('Country house');
    expect((screen.getByLabelText('What are you looking for?') as HTMLInputElement).value).toBe('');
  });

  test('the type applies at once; an empty result says so', async () => {
    fakeApi({ 'GET /api/v1/properties': (_r: Request, url: URL) => ({ items: url.searchParams.get('type') === 'land' ? [] : [listing()], next_cursor: null }) });
    render(<ListingSearch />);
    await screen.findByText('Penthouse with rooftop terrace');
    fireEvent.change(screen.getByLabelText('Type'), { target: { value: 'land' } });
    await screen.findByText('No homes match your search');
    expect(location.search).toBe('?type=land');
  });

  test('"load more" fetches the next page with the cursor', async () => {
    const { calls } = fakeApi({
      'GET /api/v1/properties': (_r: Request, url: URL) =>
        url.searchParams.get('cursor') === 'c1'
          ? { items: [listing({ id: 'p9', title: 'Last flat' })], next_cursor: null }
          : { items: [listing()], next_cursor: 'c1' },
    });
    navigate('/listings?city=Sevilla');
    render(<ListingSearch />);
    fireEvent.click(await screen.findByRole('button', { name: 'Load more' }));
    await screen.findByText('Last flat');
    expect(calls.filter((c) => c.includes('cursor=c1'))).toHaveLength(1);
    expect(screen.getByText('You have seen every home for this search.')).toBeTruthy();
  });
});
