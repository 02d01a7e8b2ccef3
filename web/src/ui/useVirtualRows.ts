// Windowing for long lists and tables: which rows to render for what is on screen. The rows
// share one pitch (their height plus any gap), measured from the rendered rows (elements
// marked `data-vrow`), so the same list can be a table on a desktop and cards on a phone.
// The element with the ref is either the scroller itself ('self', e.g. the inbox's list) or
// sits in a scrolling page ('parent', e.g. the fleet's table body: whichever ancestor
// scrolls). Renders again only when the window moves by a whole row.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from 'react';
import { scrollToRow, windowRange, type WindowRange } from './virtual';

export interface VirtualRowsOptions {
  count: number;
  /** The pitch to assume until rows are on screen (and in environments without layout). */
  estimate: number;
  scroller?: 'self' | 'parent';
  /** Kept in view when it changes (keyboard navigation). */
  activeIndex?: number | undefined;
  overscan?: number;
}

export interface VirtualRows<E extends HTMLElement> {
  ref: RefObject<E | null>;
  range: WindowRange;
  pitch: number;
  /** Scroll so that row `index` is fully in view, and render the rows there at once. */
  scrollToIndex: (index: number) => void;
}

type Scroller = HTMLElement | Window;

const FALLBACK_VIEWPORT = 600;

/** The nearest ancestor that scrolls vertically, else the window. */
export function scrollParent(el: HTMLElement): Scroller {
  for (let p = el.parentElement; p; p = p.parentElement) {
    const oy = getComputedStyle(p).overflowY;
    if ((oy === 'auto' || oy === 'scroll' || oy === 'overlay') && p.scrollHeight > p.clientHeight + 1) return p;
  }
  return window;
}

/**
 * Where the viewport is, in the coordinates of the rows' container: its top and height.
 * Inside a scrolling page ('parent') this is the browser's viewport, which contains the
 * scroller's: a few rows more than strictly visible, never fewer.
 */
function viewOf(el: HTMLElement, self: boolean): { top: number; height: number } {
  if (self) return { top: el.scrollTop, height: el.clientHeight || FALLBACK_VIEWPORT };
  return { top: -el.getBoundingClientRect().top, height: window.innerHeight || FALLBACK_VIEWPORT };
}

export function useVirtualRows<E extends HTMLElement>({ count, estimate, scroller = 'self', activeIndex, overscan = 6 }: VirtualRowsOptions): VirtualRows<E> {
  const self = scroller === 'self';
  const ref = useRef<E>(null);
  const [pitch, setPitch] = useState(estimate);
  const pitchRef = useRef(pitch);
  pitchRef.current = pitch;
  // The viewport's top, rounded down to a whole row: scrolling within a row renders nothing.
  const [view, setView] = useState({ top: 0, height: FALLBACK_VIEWPORT });

  const read = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    const v = viewOf(el, self);
    const p = pitchRef.current;
    const top = p > 0 ? Math.floor(Math.max(0, v.top) / p) * p : 0;
    setView((cur) => (cur.top === top && cur.height === v.height ? cur : { top, height: v.height }));
  }, [self]);

  // Follow the scroller: the element itself, or any scroll in the page (captured at the
  // document, so it does not matter which ancestor scrolls) and the window's size.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    read();
    const target: HTMLElement | Document = self ? el : document;
    const opts = { passive: true, capture: !self };
    target.addEventListener('scroll', read, opts);
    window.addEventListener('resize', read);
    let ro: ResizeObserver | undefined;
    if (self && typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(read);
      ro.observe(el);
    }
    return () => {
      target.removeEventListener('scroll', read, opts);
      window.removeEventListener('resize', read);
      ro?.disconnect();
    };
  }, [self, read]);

  // The rows' real pitch, from the first and last rendered rows (no layout, no change).
  useLayoutEffect(() => {
    const rows = ref.current?.querySelectorAll<HTMLElement>('[data-vrow]');
    if (!rows || rows.length === 0) return;
    const first = rows[0] as HTMLElement;
    const last = rows[rows.length - 1] as HTMLElement;
    const measured = rows.length > 1 ? (last.getBoundingClientRect().top - first.getBoundingClientRect().top) / (rows.length - 1) : first.getBoundingClientRect().height;
    if (measured > 0 && Math.abs(measured - pitchRef.current) > 0.5) {
      pitchRef.current = measured;
      setPitch(measured);
      read();
    }
  });

  const scrollToIndex = useCallback(
    (index: number) => {
      const el = ref.current;
      if (!el || index < 0) return;
      const p = pitchRef.current;
      if (self) {
        const next = scrollToRow(index, el.scrollTop, el.clientHeight, p);
        if (next !== el.scrollTop) el.scrollTop = next;
      } else {
        // In the coordinates of the browser's viewport: the row against what the scroller shows.
        const s = scrollParent(el);
        const box = s instanceof Window ? { top: 0, bottom: window.innerHeight } : s.getBoundingClientRect();
        const shownTop = Math.max(0, box.top);
        const shownBottom = Math.min(window.innerHeight || box.bottom, box.bottom);
        const rowTop = el.getBoundingClientRect().top + index * p;
        const dy = rowTop < shownTop ? rowTop - shownTop : rowTop + p > shownBottom ? rowTop + p - shownBottom : 0;
        if (dy !== 0) {
          if (s instanceof Window) window.scrollBy(0, dy);
          else s.scrollTop += dy;
        }
      }
      read();
    },
    [self, read],
  );

  useEffect(() => {
    if (activeIndex !== undefined && activeIndex >= 0) scrollToIndex(activeIndex);
  }, [activeIndex, scrollToIndex]);

  return { ref, range: windowRange(view.top, view.height, pitch, count, overscan), pitch, scrollToIndex };
}
