// A windowed list that scrolls by itself, rows of one height: only the rows in view (plus a
// few) are in the DOM, so thousands of conversations scroll smoothly. It asks for more near
// the end. Tables and lists inside a scrolling page use `useVirtualRows` directly.
import { type ReactNode, useEffect } from 'react';
import { useVirtualRows } from './useVirtualRows';
import './virtual.css';

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
  onEndReached?: (() => void) | undefined;
  /** Kept in view when it changes (keyboard navigation). */
  activeIndex?: number | undefined;
  label: string;
  footer?: ReactNode;
}) {
  const { ref, range: r } = useVirtualRows<HTMLDivElement>({ count: items.length, estimate: rowHeight, activeIndex });

  useEffect(() => {
    if (onEndReached && items.length > 0 && r.end >= items.length - 5) onEndReached();
  }, [r.end, items.length, onEndReached]);

  return (
    <div ref={ref} className="vlist">
      <ul className="vlist-inner" aria-label={label} style={{ paddingTop: r.padTop, paddingBottom: r.padBottom }}>
        {items.slice(r.start, r.end).map((it, i) => (
          <li key={getKey(it)} data-vrow="" style={{ height: rowHeight }} aria-setsize={items.length} aria-posinset={r.start + i + 1}>
            {renderRow(it, r.start + i)}
          </li>
        ))}
      </ul>
      {footer}
    </div>
  );
}
