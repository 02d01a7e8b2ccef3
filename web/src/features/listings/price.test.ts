import { afterEach, describe, expect, it } from 'vitest';
import { formatPrice, parsePrice, priceInput } from './price';
import { locale } from '../../i18n';

afterEach(() => locale.set('en'));

describe('prices', () => {
  it('formats cents in the user’s language, whole units unless there are cents', () => {
    locale.set('en');
    expect(formatPrice(25_000_000, 'EUR')).toBe('€250,000');
    expect(formatPrice(9_950, 'USD')).toBe('US$99.50');
    locale.set('es');
    expect(formatPrice(25_000_000, 'EUR').replace(/\s/g, ' ')).toBe('250.000 €');
  });

  it('survives an unknown currency code', () => {
    expect(formatPrice(100, 'ZZZ')).toMatch(/ZZZ/);
  });

  it('reads prices as people type them', () => {
    expect(parsePrice('250000')).toBe(25_000_000);
    expect(parsePrice('250.000')).toBe(25_000_000);
    expect(parsePrice('250,000')).toBe(25_000_000);
    expect(parsePrice('1.250.000,50')).toBe(125_000_050);
    expect(parsePrice('1 250 000')).toBe(125_000_000);
    expect(parsePrice('€ 99.5')).toBe(9_950);
    expect(parsePrice('0')).toBe(0);
  });

  it('refuses what is not a price', () => {
    for (const bad of ['', 'abc', '12a3', '1.2.3', '-5', '12,34,5', '99999999999999']) expect(parsePrice(bad), bad).toBeNull();
  });

  it('puts a price back into an input', () => {
    expect(priceInput(25_000_000)).toBe('250000');
    expect(priceInput(9_950)).toBe('99.50');
  });
});
