// The inbox list's live state: cursor pages under the current filters, kept current by the
// socket (new conversations appear on top, previews / unread counts / order follow
// `message.created`, `conversation.updated` and `read`) and reloaded after a resync.
import { useCallback, useEffect, useRef, useState } from 'react';
import { createStore } from '../../../lib/store';
import { api, unwrap, type Schemas } from '../../../api/client';
import { on } from '../../../realtime/socket';
import type { User } from '../../../session/session';
import {
  applyConversationUpdated,
  applyMessageCreated,
  applyMessageUpdated,
  applyRead,
  keepMatching,
  matchesFilters,
  mergeConversations,
  type ConversationView,
  type EventOutcome,
  type Filters,
  type MessageDto,
} from './listModel';

const PAGE = 50;

/** Ids of last messages this user wrote (the list's preview has no author: "You: "). */
export const ownMessages = new Set<string>();

/** Conversations whose other side is typing right now (shown in the rows). */
export const typingIn = createStore<ReadonlySet<string>>(new Set());
const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

export function setTyping(conversationId: string, on: boolean, ms = 6000) {
  clearTimeout(typingTimers.get(conversationId));
  typingTimers.delete(conversationId);
  typingIn.set((s) => {
    if (s.has(conversationId) === on) return s;
    const n = new Set(s);
    if (on) n.add(conversationId);
    else n.delete(conversationId);
    return n;
  });
  if (on) typingTimers.set(conversationId, setTimeout(() => setTyping(conversationId, false), ms));
}

export function useConversations(user: User, filters: Filters, openId: string | undefined) {
  const [list, setList] = useState<ConversationView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const openRef = useRef(openId);
  openRef.current = openId;
  const gen = useRef(0);
  const moreBusy = useRef(false);
  const fetching = useRef(new Set<string>());

  const query = (f: Filters, c?: string | null) => ({
    limit: PAGE,
    cursor: c ?? undefined,
    unread: f.unread ? true : undefined,
    channel: (f.channel || undefined) as string | undefined,
    status: f.status || undefined,
    property_id: f.propertyId || undefined,
    agent_id: f.agentId || undefined,
  });

  const loadFirst = useCallback(async (keep: boolean) => {
    const my = ++gen.current;
    if (!keep) {
      setLoading(true);
      setError(undefined);
    }
    try {
      const page = await unwrap(api.GET('/api/v1/conversations', { params: { query: query(filtersRef.current) } }));
      if (gen.current !== my) return;
      setList(page.items);
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      if (gen.current === my && !keep) setError(e);
    } finally {
      if (gen.current === my) setLoading(false);
    }
  }, []);

  useEffect(() => {
    void loadFirst(false);
  }, [filters.unread, filters.channel, filters.status, filters.propertyId, filters.agentId, loadFirst]);

  const loadMore = useCallback(async () => {
    if (!cursor || moreBusy.current) return;
    moreBusy.current = true;
    setLoadingMore(true);
    const my = gen.current;
    try {
      const page = await unwrap(api.GET('/api/v1/conversations', { params: { query: query(filtersRef.current, cursor) } }));
      if (gen.current !== my) return;
      setList((l) => mergeConversations(l, page.items));
      setCursor(page.next_cursor ?? null);
    } catch {
      /* the next scroll tries again */
    } finally {
      moreBusy.current = false;
      setLoadingMore(false);
    }
  }, [cursor]);

  const fetchOne = useCallback(async (id: string) => {
    if (fetching.current.has(id)) return;
    fetching.current.add(id);
    const my = gen.current;
    try {
      const view = await unwrap(api.GET('/api/v1/conversations/{id}', { params: { path: { id } } }));
      if (gen.current !== my) return;
      if (matchesFilters(view, filtersRef.current) || view.id === openRef.current) setList((l) => mergeConversations(l, [view]));
      else setList((l) => l.filter((c) => c.id !== id));
    } catch {
      setList((l) => l.filter((c) => c.id !== id));
    } finally {
      fetching.current.delete(id);
    }
  }, []);

  /** Apply an event to the newest list (several may arrive before a render). */
  const apply = useCallback(
    (step: (l: ConversationView[]) => EventOutcome) => {
      setList((l) => {
        const o = step(l);
        if (o.kind === 'fetch') {
          queueMicrotask(() => void fetchOne(o.id));
          return l;
        }
        return keepMatching(o.list, filtersRef.current, openRef.current);
      });
    },
    [fetchOne],
  );

  useEffect(() => {
    const offs = [
      on<{ conversation_id: string; message: MessageDto }>('message.created', (e) => {
        const msg = e.data.message;
        if (msg.author_user_id === user.id) ownMessages.add(msg.id);
        else setTyping(e.data.conversation_id, false);
        const reading = document.visibilityState === 'visible' ? openRef.current : undefined;
        apply((l) => applyMessageCreated(l, e.data.conversation_id, msg, user.id, reading));
      }),
      on<{ conversation_id: string; message: MessageDto }>('message.updated', (e) => {
        setList((l) => applyMessageUpdated(l, e.data.conversation_id, e.data.message));
      }),
      on<{ conversation?: Schemas['ConversationDto']; conversation_id?: string; reassigned_to?: string }>('conversation.updated', (e) => {
        apply((l) => applyConversationUpdated(l, e.data, user));
      }),
      on<{ conversation_id: string; user_id: string; up_to?: string | null; unread?: boolean }>('read', (e) => {
        apply((l) => applyRead(l, e.data, user.id));
      }),
      on<{ conversation_id: string; user_id?: string; typing: boolean; expires_in_ms?: number }>('typing', (e) => {
        if (e.data.user_id === user.id) return;
        setTyping(e.data.conversation_id, e.data.typing, e.data.expires_in_ms ?? 6000);
      }),
      on('resync', () => void loadFirst(true)),
      on<{ resumed: boolean }>('open', (e) => {
        if (e.data.resumed) void loadFirst(true);
      }),
    ];
    return () => offs.forEach((f) => f());
  }, [user, apply, loadFirst]);

  /** A change made here (archive, reassign…): show it at once. */
  const upsert = useCallback((v: ConversationView) => {
    setList((l) => keepMatching(mergeConversations(l, [v]), filtersRef.current, openRef.current));
  }, []);

  return { list, loading, loadingMore, error, hasMore: !!cursor, loadMore, upsert, refresh: fetchOne, reload: () => void loadFirst(false) };
}
