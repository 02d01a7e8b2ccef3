// Load something once (and again when `deps` change), with loading and error states.
import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (f: T | ((prev: T | undefined) => T)) => void;
}

export function useAsync<T>(load: () => Promise<T>, deps: DependencyList): AsyncState<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const gen = useRef(0);
  useEffect(() => {
    const my = ++gen.current;
    setLoading(true);
    setError(undefined);
    load().then(
      (d) => {
        if (gen.current === my) {
          setDataState(d);
          setLoading(false);
        }
      },
      (e: unknown) => {
        if (gen.current === my) {
          setError(e);
          setLoading(false);
        }
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((x) => x + 1), []);
  const setData = useCallback((f: T | ((prev: T | undefined) => T)) => {
    setDataState((prev) => (typeof f === 'function' ? (f as (p: T | undefined) => T)(prev) : f));
  }, []);
  return { data, error, loading, reload, setData };
}
