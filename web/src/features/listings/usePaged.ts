// Keyset pages ("load more"): the first page when `key` changes, the next on `loadMore()`.
// Answers of a superseded key are dropped, so fast typing in a search box never shows stale
// results.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Paged<T> {
  items: T[];
  loading: boolean;
  loadingMore: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
  setItems: (f: (prev: T[]) => T[]) => void;
}

/** Pages already shown, by key: coming Back to a search shows it at once, where it was. */
export type PageCache<T> = Map<string, { items: T[]; cursor: string | null; at: number }>;
/** How long a remembered page is shown without asking again. */
const CACHE_MS = 120_000;

export function usePaged<T>(key: string, load: (cursor: string | undefined) => Promise<Page<T>>, cache?: PageCache<T>): Paged<T> {
  const hit = cache?.get(key);
  const cached = hit && Date.now() - hit.at < CACHE_MS ? hit : undefined;
  const [items, setItemsState] = useState<T[]>(cached?.items ?? []);
  const [cursor, setCursor] = useState<string | null>(cached?.cursor ?? null);
  const [loading, setLoading] = useState(!cached);
  const skipFirst = useRef(!!cached);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  const gen = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const remember = (k: string, it: T[], c: string | null) => {
    if (!cache) return;
    cache.delete(k);
    cache.set(k, { items: it, cursor: c, at: Date.now() });
    if (cache.size > 20) cache.delete(cache.keys().next().value as string);
  };
  const keyRef = useRef(key);
  keyRef.current = key;

  useEffect(() => {
    const my = ++gen.current;
    if (skipFirst.current) {
      skipFirst.current = false;
      return;
    }
    setLoading(true);
    setError(undefined);
    loadRef.current(undefined).then(
      (p) => {
        if (gen.current !== my) return;
        setItemsState(p.items);
        setCursor(p.next_cursor ?? null);
        setLoading(false);
        remember(key, p.items, p.next_cursor ?? null);
      },
      (e: unknown) => {
        if (gen.current !== my) return;
        setError(e);
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);

  const busy = useRef(false);
  const loadMore = useCallback(() => {
    if (!cursor || busy.current) return;
    busy.current = true;
    const my = gen.current;
    setLoadingMore(true);
    loadRef.current(cursor).then(
      (p) => {
        busy.current = false;
        if (gen.current !== my) return;
        setItemsState((prev) => {
          const all = [...prev, ...p.items];
          remember(keyRef.current, all, p.next_cursor ?? null);
          return all;
        });
        setCursor(p.next_cursor ?? null);
        setLoadingMore(false);
      },
      (e: unknown) => {
        busy.current = false;
        if (gen.current !== my) return;
        setError(e);
        setLoadingMore(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cursor]);

  const reload = useCallback(() => setTick((x) => x + 1), []);
  const setItems = useCallback((f: (prev: T[]) => T[]) => setItemsState(f), []);
  return { items, loading, loadingMore, error, hasMore: cursor !== null, loadMore, reload, setItems };
}

/** Calls `onVisible` when the returned element's ref scrolls into view (endless scroll). */
export function useSentinel(onVisible: () => void, enabled: boolean) {
  const ref = useRef<HTMLDivElement>(null);
  const cb = useRef(onVisible);
  cb.current = onVisible;
  useEffect(() => {
    const el = ref.current;
    if (!el || !enabled || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) cb.current();
    }, { rootMargin: '400px' });
    io.observe(el);
    return () => io.disconnect();
  }, [enabled]);
  return ref;
}
