// Short notices in a polite live region ("Saved", "Message failed to send").
import { createStore, useStore } from '../lib/store';
import { common } from '../i18n/common';
import { useT } from '../i18n';

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error' | 'success';
  action?: { label: string; run: () => void } | undefined;
}

const toasts = createStore<Toast[]>([]);
let next = 1;

export function toast(text: string, tone: Toast['tone'] = 'info', action?: Toast['action'], ms = 5000) {
  const id = next++;
  toasts.set((l) => [...l.slice(-3), { id, text, tone, action }]);
  if (ms > 0) setTimeout(() => dismiss(id), ms);
  return id;
}

export function dismiss(id: number) {
  toasts.set((l) => l.filter((t) => t.id !== id));
}

export function Toasts() {
  const list = useStore(toasts);
  const t = useT(common);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((x) => (
        <div key={x.id} className={`toast toast-${x.tone}`}>
          <span>{x.text}</span>
          {x.action && (
            <button type="button" className="btn btn-small" onClick={() => { x.action?.run(); dismiss(x.id); }}>
              {x.action.label}
            </button>
          )}
          <button type="button" className="icon-btn" aria-label={t('dismiss')} onClick={() => dismiss(x.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
