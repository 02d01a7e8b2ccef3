// The caller's unread total (conversations with something unread), for the nav badge and
// the tab title. Loaded over REST and re-read, debounced, whenever the socket says something
// that can change it (a message, a read receipt, a conversation update, a resync).
import { useEffect } from 'react';
import { createStore } from '../../lib/store';
import { api, unwrap } from '../../api/client';
import { on } from '../../realtime/socket';

export const unreadTotal = createStore<number>(0);

let timer: ReturnType<typeof setTimeout> | undefined;

export async function refreshUnread(): Promise<void> {
  try {
    const c = await unwrap(api.GET('/api/v1/unread-count'));
    unreadTotal.set(c.conversations);
  } catch {
    /* keep the last figure */
  }
}

export function scheduleUnreadRefresh(ms = 300) {
  clearTimeout(timer);
  timer = setTimeout(() => void refreshUnread(), ms);
}

export function useUnreadTracking(enabled: boolean) {
  useEffect(() => {
    if (!enabled) return;
    void refreshUnread();
    const offs = ['message.created', 'read', 'conversation.updated', 'resync', 'open'].map((type) =>
      on(type, () => scheduleUnreadRefresh()),
    );
    return () => offs.forEach((f) => f());
  }, [enabled]);
}
