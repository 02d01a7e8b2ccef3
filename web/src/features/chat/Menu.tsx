// A small button-triggered menu (WAI-ARIA menu button): arrow keys move, Escape closes and
// gives focus back to the button, a click outside closes it.
import { type ReactNode, useEffect, useId, useLayoutEffect, useRef, useState } from 'react';

export interface MenuItem {
  label: string;
  onSelect: () => void;
  danger?: boolean;
  hidden?: boolean;
}

export function Menu({
  label,
  icon,
  items,
  extra,
  className,
  align = 'end',
}: {
  label: string;
  icon: ReactNode;
  items: MenuItem[];
  /** Shown above the items (e.g. the quick reactions). */
  extra?: (close: () => void) => ReactNode;
  className?: string;
  align?: 'start' | 'end';
}) {
  const [open, setOpen] = useState(false);
  /** Opens upwards when there is no room below (inside a scrolling pane). */
  const [up, setUp] = useState(false);
  const btn = useRef<HTMLButtonElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const id = useId();
  const visible = items.filter((i) => !i.hidden);

  useLayoutEffect(() => {
    if (!open) {
      setUp(false);
      return;
    }
    const r = box.current?.getBoundingClientRect();
    const pane = btn.current?.closest('.thread-scroll, .vlist, .inbox-list');
    const limit = pane ? pane.getBoundingClientRect().bottom : window.innerHeight;
    if (r && r.bottom > limit - 4 && r.height > 0) setUp(true);
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const first = box.current?.querySelector<HTMLElement>('[role="menuitem"], button');
    first?.focus();
    const onDown = (e: PointerEvent) => {
      if (!box.current?.contains(e.target as Node) && !btn.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', onDown);
    return () => document.removeEventListener('pointerdown', onDown);
  }, [open]);

  const close = (refocus = true) => {
    setOpen(false);
    if (refocus) btn.current?.focus();
  };

  const onKey = (e: React.KeyboardEvent) => {
    const els = [...(box.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const i = els.indexOf(document.activeElement as HTMLElement);
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      close();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      els[(i + 1) % els.length]?.focus();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      els[(i - 1 + els.length) % els.length]?.focus();
    } else if (e.key === 'Tab') {
      setOpen(false);
    }
  };

  if (visible.length === 0 && !extra) return null;
  return (
    <div className={`menu-wrap ${className ?? ''}`}>
      <button
        ref={btn}
        type="button"
        className="icon-btn"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => setOpen((o) => !o)}
      >
        {icon}
      </button>
      {open && (
        <div ref={box} id={id} className={`menu menu-${align}${up ? ' menu-up' : ''}`} role="menu" aria-label={label} onKeyDown={onKey}>
          {extra?.(() => close())}
          {visible.map((it) => (
            <button
              key={it.label}
              type="button"
              role="menuitem"
              className={`menu-item${it.danger ? ' menu-danger' : ''}`}
              onClick={() => {
                close(false);
                it.onSelect();
              }}
            >
              {it.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
