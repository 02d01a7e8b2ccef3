// Client-side routes on the History API (Puente serves index.html for every app path).
// `useRoute()` re-renders on navigation; `match('/inbox/:id')` pulls parameters out.
import { type AnchorHTMLAttributes, type MouseEvent } from 'react';
import { createStore, useStore } from './lib/store';

export interface Route {
  path: string;
  query: URLSearchParams;
}

const read = (): Route => ({ path: location.pathname, query: new URLSearchParams(location.search) });
export const route = createStore<Route>(read());

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => route.set(read()));
}

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  route.set(read());
  // The app scrolls inside <main>, not the window: a new page opens at its top.
  window.scrollTo?.(0, 0);
  document.getElementById('main')?.scrollTo?.(0, 0);
}

export function useRoute(): Route {
  return useStore(route);
}

/** `match('/inbox/:id', '/inbox/42')` → `{ id: '42' }`; a trailing `/*` matches the rest. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    if (seg === '*') {
      params['*'] = s.slice(i).join('/');
      return params;
    }
    const part = s[i];
    if (part === undefined) return null;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(part);
    else if (seg !== part) return null;
  }
  return p.length === s.length ? params : null;
}

export function Link({ to, replace, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; replace?: boolean }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to, { replace });
  };
  return <a href={to} onClick={handle} {...rest} />;
}
