import { describe, expect, it } from 'vitest';
import { createBody, emptyForm, formOf, updateBody, validate, type Listing } from './form';

const good = { ...emptyForm(), title: 'Bright flat', price: '250.000', city: 'Madrid', property_type: 'apartment' };

const listing: Listing = {
  id: 'p1',
  agency_id: 'a1',
  agency_name: 'Sol',
  agent_id: 'u1',
  agent_name: 'Ana',
  title: 'Bright flat',
  description: '',
  price_cents: 25_000_000,
  currency: 'EUR',
  address: '',
  city: 'Madrid',
  property_type: 'apartment',
  status: 'active',
  photos: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

describe('listing form', () => {
  it('accepts a complete listing', () => {
    expect(validate(good)).toEqual({});
  });

  it('names every problem at once', () => {
    const e = validate({ ...emptyForm(), title: '  ', price: 'lots', currency: 'eur', city: '', property_type: 'castle' });
    expect(e.title?.key).toBe('errRequired');
    expect(e.price?.key).toBe('errPrice');
    expect(e.currency?.key).toBe('errCurrency');
    expect(e.city?.key).toBe('errRequired');
    expect(e.property_type?.key).toBe('errType');
  });

  it('enforces the API’s lengths and price ceiling', () => {
    const e = validate({ ...good, title: 'x'.repeat(201), address: 'y'.repeat(301), description: 'z'.repeat(10_001), price: '99999999999999' });
    expect(e.title).toEqual({ key: 'errTooLong', n: 200 });
    expect(e.address).toEqual({ key: 'errTooLong', n: 300 });
    expect(e.description).toEqual({ key: 'errTooLong', n: 10_000 });
    expect(e.price?.key).toBe('errPrice');
    expect(validate({ ...good, title: 'a\u0007b' }).title?.key).toBe('errControl');
    expect(validate({ ...good, description: 'line one\nline two\ttab' }).description).toBeUndefined();
  });

  it('sends cents and trimmed text', () => {
    expect(createBody({ ...good, title: ' Bright flat ' })).toMatchObject({ title: 'Bright flat', price_cents: 25_000_000, currency: 'EUR', status: 'active' });
  });

  it('patches only what changed', () => {
    expect(updateBody(listing, formOf(listing))).toEqual({});
    expect(updateBody(listing, { ...formOf(listing), price: '240000', city: 'Toledo' })).toEqual({ price_cents: 24_000_000, city: 'Toledo' });
    expect(updateBody(listing, { ...formOf(listing), agent_id: 'u2' })).toEqual({ agent_id: 'u2' });
    expect(createBody(good)).not.toHaveProperty('agent_id');
  });
});
