// The app scrolls inside <main id="main">, not the window, so a new page would open where
// the previous one was scrolled to. Pages call this to start at the top.
import { useLayoutEffect } from 'react';

export function useStartAtTop(key: unknown) {
  useLayoutEffect(() => {
    const el = document.getElementById('main');
    if (el) el.scrollTop = 0;
  }, [key]);
}
