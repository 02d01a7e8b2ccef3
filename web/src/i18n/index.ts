// English and Spanish. Each feature keeps its own catalogue next to its components:
//
//   const m = defineMessages({ en: { hello: 'Hello {name}' }, es: { hello: 'Hola {name}' } });
//   const t = useT(m);  t('hello', { name: 'Ana' })
//
// The Spanish catalogue must have exactly the English keys (checked by the type system).
// The locale comes from the browser's language, can be switched, and is remembered.
import { createStore, useStore } from '../lib/store';

export type Locale = 'en' | 'es';
export const LOCALES: Locale[] = ['en', 'es'];

function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem('puente.locale');
    if (saved === 'en' || saved === 'es') return saved;
  } catch {
    /* storage may be unavailable */
  }
  const langs = typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : [];
  for (const l of langs) {
    const base = l?.toLowerCase().split('-')[0];
    if (base === 'es') return 'es';
    if (base === 'en') return 'en';
  }
  return 'en';
}

export const locale = createStore<Locale>(initialLocale());

export function setLocale(l: Locale) {
  locale.set(l);
  try {
    localStorage.setItem('puente.locale', l);
  } catch {
    /* ignore */
  }
  document.documentElement.lang = l;
}

export type Catalogue<K extends string> = { en: Record<K, string>; es: Record<K, string> };
export type Vars = Record<string, string | number>;

export function defineMessages<K extends string>(c: { en: Record<K, string>; es: Record<NoInfer<K>, string> }): Catalogue<K> {
  return c;
}

export function interpolate(s: string, vars?: Vars): string {
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (_, k: string) => (k in vars ? String(vars[k]) : `{${k}}`));
}

export type T<K extends string> = (key: K, vars?: Vars) => string;

/** A translator for the current locale (outside React). */
export function translator<K extends string>(c: Catalogue<K>, l: Locale = locale.get()): T<K> {
  const table = c[l];
  return (key, vars) => interpolate(table[key] || c.en[key] || key, vars);
}

/** A translator that re-renders the component when the locale changes. */
export function useT<K extends string>(c: Catalogue<K>): T<K> {
  const l = useStore(locale);
  return translator(c, l);
}

export function useLocale(): Locale {
  return useStore(locale);
}
