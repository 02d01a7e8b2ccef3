// A windowed list with a fixed row height: only the rows in view (plus a few) are in the
// DOM, so thousands of conversations scroll smoothly. It asks for more near the end.
import { type ReactNode, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { scrollToRow, windowRange } from './listModel';

export function VirtualList<T>({
  items,
  rowHeight,
  getKey,
  renderRow,
  onEndReached,
  activeIndex,
  label,
  footer,
}: {
  items: readonly T[];
  rowHeight: number;
  getKey: (item: T) => string;
  renderRow: (item: T, index: number) => ReactNode;
  onEndReached?: () => void;
  /** Kept in view when it changes (keyboard navigation). */
  activeIndex?: number;
  label: string;
  footer?: ReactNode;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const r = windowRange(scrollTop, height, rowHeight, items.length);

  useEffect(() => {
    if (onEndReached && items.length > 0 && r.end >= items.length - 5) onEndReached();
  }, [r.end, items.length, onEndReached]);

  useEffect(() => {
    const el = box.current;
    if (!el || activeIndex === undefined || activeIndex < 0) return;
    const next = scrollToRow(activeIndex, el.scrollTop, el.clientHeight, rowHeight);
    if (next !== el.scrollTop) el.scrollTop = next;
  }, [activeIndex, rowHeight]);

  return (
    <div ref={box} className="vlist" onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      <ul className="vlist-inner" aria-label={label} style={{ paddingTop: r.padTop, paddingBottom: r.padBottom }}>
        {items.slice(r.start, r.end).map((it, i) => (
          <li key={getKey(it)} style={{ height: rowHeight }} aria-setsize={items.length} aria-posinset={r.start + i + 1}>
            {renderRow(it, r.start + i)}
          </li>
        ))}
      </ul>
      {footer}
    </div>
  );
}
