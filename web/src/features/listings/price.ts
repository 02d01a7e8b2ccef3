// Prices travel as integer cents (`price_cents`) with an ISO 4217 currency; people read and
// type them in whole units. These helpers convert both ways without floating-point drift.
import { locale } from '../../i18n';

/** Currencies offered in the listing form (any valid ISO code the listing already has is kept). */
export const CURRENCIES = ['EUR', 'USD', 'MXN', 'COP', 'ARS', 'CLP', 'PEN', 'GBP'] as const;

/** The property types the API accepts, in display order. */
export const PROPERTY_TYPES = ['house', 'apartment', 'condo', 'land'] as const;
export type PropertyType = (typeof PROPERTY_TYPES)[number];

export function isPropertyType(v: string | null | undefined): v is PropertyType {
  return !!v && (PROPERTY_TYPES as readonly string[]).includes(v);
}

const intlLocale = () => (locale.get() === 'es' ? 'es-ES' : 'en-GB');

/** `123456700, 'EUR'` → "€1,234,567" (whole units unless there are cents to show). */
export function formatPrice(cents: number, currency = 'EUR'): string {
  const units = cents / 100;
  const whole = cents % 100 === 0;
  try {
    return new Intl.NumberFormat(intlLocale(), {
      style: 'currency',
      currency,
      minimumFractionDigits: whole ? 0 : 2,
      maximumFractionDigits: whole ? 0 : 2,
    }).format(units);
  } catch {
    // An unknown currency code: show the number and the code.
    return `${units.toLocaleString(intlLocale())} ${currency}`;
  }
}

/**
 * What someone typed as a price ("250000", "250.000", "250,000", "1 250 000,50", "€ 99.5")
 * → cents, or `null` when it is not a price. A separator followed by exactly three digits is
 * a thousands separator; one followed by one or two digits at the end is the decimal mark.
 */
export function parsePrice(input: string): number | null {
  if (input.includes('-')) return null;
  const s = input.replace(/[\s\u00a0\u202f]/g, '').replace(/^[^\d]+|[^\d]+$/g, '');
  if (!s) return null;
  if (!/^[\d.,]+$/.test(s)) return null;
  let intPart = s;
  let frac = '';
  const m = /^(.*)[.,](\d{1,2})$/.exec(s);
  if (m && m[1] !== undefined && m[2] !== undefined) {
    intPart = m[1];
    frac = m[2];
  }
  if (intPart && !/^\d{1,3}([.,]\d{3})*$|^\d+$/.test(intPart)) return null;
  const digits = intPart.replace(/[.,]/g, '') || '0';
  if (digits.length > 13) return null;
  const cents = Number(digits) * 100 + Number(frac.padEnd(2, '0') || '0');
  return Number.isSafeInteger(cents) ? cents : null;
}

/** Cents → the text to put back in a price input ("250000" or "99.50"). */
export function priceInput(cents: number): string {
  if (cents % 100 === 0) return String(cents / 100);
  return (cents / 100).toFixed(2);
}
