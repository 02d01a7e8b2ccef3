// One conversation's live state: its view, its messages (pages loaded on demand around the
// latest or around a focused message), the other side's typing / online / read position,
// and the actions on it (send with optimistic bubbles, retry, react, edit, delete).
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, rawFetch, unwrap, type Schemas } from '../../api/client';
import { ApiError, problemMessage } from '../../api/problem';
import { on, realtime } from '../../realtime/socket';
import type { User } from '../../session/session';
import { toast } from '../../ui/toast';
import {
  fromOtherSide,
  isLocal,
  mergeMessages,
  newClientId,
  optimistic,
  patchMessage,
  removeMessage,
  withReaction,
  type MessageDto,
  type Msg,
} from './model';

export type ConversationView = Schemas['ConversationView'];
const PAGE = 50;

export interface TypingState {
  until: number;
  state?: string | undefined;
}

export interface SendArgs {
  body: string;
  file?: File | undefined;
  replyTo?: string | undefined;
  note: boolean;
}

export function useThread(conversationId: string, user: User, focusMessageId?: string) {
  const [conv, setConv] = useState<ConversationView | undefined>(undefined);
  const [msgs, setMsgs] = useState<Msg[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [hasOlder, setHasOlder] = useState(false);
  const [hasNewer, setHasNewer] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [readUpTo, setReadUpTo] = useState<number | undefined>(undefined);
  const [typing, setTyping] = useState<TypingState | null>(null);
  const [online, setOnline] = useState<boolean | undefined>(undefined);
  const [initialUnread, setInitialUnread] = useState(0);
  /** Bumped on every message of the other side (the read-receipt logic watches it). */
  const [incoming, setIncoming] = useState(0);
  /** Bumped when older messages were put on top (the view keeps its scroll position). */
  const [prepended, setPrepended] = useState(0);
  const [retried, setRetried] = useState<Set<string>>(() => new Set());

  const msgsRef = useRef(msgs);
  msgsRef.current = msgs;
  const convRef = useRef(conv);
  convRef.current = conv;
  const hasNewerRef = useRef(hasNewer);
  hasNewerRef.current = hasNewer;
  const gen = useRef(0);
  const uploaded = useRef(new Map<string, string>());
  const olderBusy = useRef(false);
  const newerBusy = useRef(false);

  const path = { params: { path: { id: conversationId } } };

  const fetchPage = useCallback(
    async (query: { before?: string; after?: string; limit?: number }): Promise<MessageDto[]> =>
      unwrap(api.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: conversationId }, query: { limit: PAGE, ...query } } })),
    [conversationId],
  );

  const loadLatest = useCallback(async (): Promise<{ list: Msg[]; older: boolean }> => {
    const page = await fetchPage({});
    return { list: [...page].reverse(), older: page.length === PAGE };
  }, [fetchPage]);

  /** Messages around one (search results): the ones before it, then it and the ones after. */
  const loadAround = useCallback(
    async (focus: string): Promise<{ list: Msg[]; older: boolean; newer: boolean } | null> => {
      let before: MessageDto[];
      try {
        before = await fetchPage({ before: focus, limit: 20 });
      } catch (e) {
        if (e instanceof ApiError && e.status === 422) return null; // not in this conversation
        throw e;
      }
      const prev = before[0];
      if (!prev) return null; // the first message: the latest pages will reach it
      const after = await fetchPage({ after: prev.id, limit: PAGE });
      return {
        list: [...before].reverse().concat(after),
        older: before.length === 20,
        newer: after.length === PAGE,
      };
    },
    [fetchPage],
  );

  const load = useCallback(
    async (mode: 'initial' | 'refresh') => {
      const my = ++gen.current;
      if (mode === 'initial') {
        setLoading(true);
        setError(undefined);
      }
      try {
        const view = await unwrap(api.GET('/api/v1/conversations/{id}', path));
        if (gen.current !== my) return;
        setConv(view);
        if (mode === 'initial') setInitialUnread(view.unread_count);
        let around = null;
        if (mode === 'initial' && focusMessageId) around = await loadAround(focusMessageId);
        if (gen.current !== my) return;
        if (around) {
          setMsgs(around.list);
          setHasOlder(around.older);
          setHasNewer(around.newer);
        } else {
          const latest = await loadLatest();
          if (gen.current !== my) return;
          if (mode === 'initial' || hasNewerRef.current) {
            setMsgs((cur) => mergeMessages(cur.filter(isLocal), latest.list));
            setHasOlder(latest.older);
            setHasNewer(false);
          } else {
            // A refresh after a reconnect: keep what is loaded when the page joins it.
            setMsgs((cur) => {
              const joins = latest.list.length === 0 || cur.some((m) => m.id === latest.list[0]?.id) || !latest.older;
              if (joins) return mergeMessages(cur, latest.list);
              setHasOlder(true);
              return mergeMessages(cur.filter(isLocal), latest.list);
            });
          }
        }
      } catch (e) {
        if (gen.current === my && mode === 'initial') setError(e);
      } finally {
        if (gen.current === my) setLoading(false);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [conversationId, focusMessageId, loadAround, loadLatest],
  );

  useEffect(() => {
    setMsgs([]);
    setConv(undefined);
    setReadUpTo(undefined);
    setTyping(null);
    setOnline(undefined);
    setHasNewer(false);
    setHasOlder(false);
    setRetried(new Set());
    void load('initial');
  }, [load]);

  const loadOlder = useCallback(async () => {
    const oldest = msgsRef.current.find((m) => !isLocal(m));
    if (!oldest || olderBusy.current) return;
    olderBusy.current = true;
    setLoadingOlder(true);
    try {
      const page = await fetchPage({ before: oldest.id });
      setHasOlder(page.length === PAGE);
      if (page.length) {
        setPrepended((x) => x + 1);
        setMsgs((cur) => mergeMessages(cur, page));
      }
    } catch (e) {
      toast(problemMessage(e), 'error');
    } finally {
      olderBusy.current = false;
      setLoadingOlder(false);
    }
  }, [fetchPage]);

  const loadNewer = useCallback(async () => {
    const stored = msgsRef.current.filter((m) => !isLocal(m));
    const newest = stored[stored.length - 1];
    if (!newest || newerBusy.current || !hasNewerRef.current) return;
    newerBusy.current = true;
    try {
      const page = await fetchPage({ after: newest.id });
      setHasNewer(page.length === PAGE);
      setMsgs((cur) => mergeMessages(cur, page));
    } catch (e) {
      toast(problemMessage(e), 'error');
    } finally {
      newerBusy.current = false;
    }
  }, [fetchPage]);

  const jumpToLatest = useCallback(async () => {
    const latest = await loadLatest();
    setMsgs((cur) => mergeMessages(cur.filter(isLocal), latest.list));
    setHasOlder(latest.older);
    setHasNewer(false);
  }, [loadLatest]);

  // Live updates for this conversation.
  useEffect(() => {
    const mine = (d: { conversation_id?: unknown }) => d.conversation_id === conversationId;
    const offs = [
      on<{ conversation_id: string; message: MessageDto }>('message.created', (e) => {
        if (!mine(e.data)) return;
        const msg = e.data.message;
        const other = fromOtherSide(msg, user.id);
        if (other) {
          setIncoming((x) => x + 1);
          setTyping(null);
        }
        if (hasNewerRef.current && !(msg.author_user_id === user.id)) return;
        setMsgs((cur) => {
          // Our note's event can overtake the POST's answer: it replaces the placeholder.
          const placeholder =
            msg.kind === 'note' && msg.author_user_id === user.id
              ? cur.find((x) => x.local?.note && x.local.state === 'sending' && x.body === msg.body)
              : undefined;
          return mergeMessages(cur, [msg], placeholder?.id);
        });
      }),
      on<{ conversation_id: string; message: MessageDto }>('message.updated', (e) => {
        if (!mine(e.data)) return;
        const msg = e.data.message;
        setMsgs((cur) => (hasNewerRef.current && !cur.some((x) => x.id === msg.id) ? cur : mergeMessages(cur, [msg])));
      }),
      on<{ conversation_id: string; user_id: string; up_to: string }>('read', (e) => {
        if (!mine(e.data) || e.data.user_id === user.id) return;
        const m = msgsRef.current.find((x) => x.id === e.data.up_to);
        if (m) setReadUpTo((cur) => Math.max(cur ?? 0, Date.parse(m.sent_at)));
      }),
      on<{ conversation_id: string; user_id?: string; typing: boolean; expires_in_ms?: number; state?: string }>('typing', (e) => {
        if (!mine(e.data) || e.data.user_id === user.id) return;
        setTyping(e.data.typing ? { until: Date.now() + (e.data.expires_in_ms ?? 6000), state: e.data.state } : null);
        if (e.data.typing) setOnline(true);
      }),
      on<{ conversation_id?: string; user_id?: string; online: boolean }>('presence', (e) => {
        const c = convRef.current;
        const forThis = mine(e.data) || (!!e.data.user_id && e.data.user_id === c?.counterpart?.id && c?.channel === 'in_app');
        if (!forThis) return;
        setOnline(e.data.online);
        if (!e.data.online) setTyping(null);
      }),
      on<{ conversation?: Schemas['ConversationDto']; conversation_id?: string; reassigned_to?: string }>('conversation.updated', (e) => {
        const dto = e.data.conversation;
        if (dto && dto.id === conversationId) setConv((c) => (c ? { ...c, ...dto } : c));
        if (e.data.conversation_id === conversationId && e.data.reassigned_to) void load('refresh');
      }),
      on('resync', () => void load('refresh')),
      on<{ resumed: boolean }>('open', (e) => {
        if (e.data.resumed) void load('refresh');
      }),
    ];
    return () => offs.forEach((f) => f());
  }, [conversationId, user.id, load]);

  // Typing expires by itself.
  useEffect(() => {
    if (!typing) return;
    const t = setTimeout(() => setTyping(null), Math.max(0, typing.until - Date.now()));
    return () => clearTimeout(t);
  }, [typing]);

  const deliver = useCallback(
    async (local: Msg) => {
      const l = local.local;
      if (!l) return;
      setMsgs((ms) => patchMessage(ms, local.id, (m) => ({ ...m, local: { ...l, state: 'sending', error: undefined } })));
      try {
        if (l.note) {
          const dto = await unwrap(api.POST('/api/v1/conversations/{id}/notes', { ...path, body: { body: local.body ?? '' } }));
          setMsgs((ms) => mergeMessages(ms, [dto], local.id));
          return;
        }
        let fileId = uploaded.current.get(local.id);
        if (l.file && !fileId) {
          const res = await rawFetch(`/api/v1/files?name=${encodeURIComponent(l.file.name)}`, {
            method: 'POST',
            headers: { 'content-type': l.file.type },
            body: l.file,
          });
          fileId = ((await res.json()) as Schemas['FileDto']).id;
          uploaded.current.set(local.id, fileId);
        }
        const dto = await unwrap(
          api.POST('/api/v1/conversations/{id}/messages', {
            ...path,
            body: { client_id: local.client_id ?? newClientId(), body: local.body || null, file_id: fileId ?? null, reply_to: local.reply_to_id ?? null },
          }),
        );
        setMsgs((ms) => mergeMessages(ms, [dto]));
        uploaded.current.delete(local.id);
        if (l.previewUrl) setTimeout(() => URL.revokeObjectURL(l.previewUrl as string), 30_000);
      } catch (err) {
        setMsgs((ms) => patchMessage(ms, local.id, (m) => ({ ...m, local: { ...l, state: 'failed', error: problemMessage(err) } })));
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [conversationId],
  );

  const send = useCallback(
    (a: SendArgs, reuseFileId?: string) => {
      const clientId = newClientId();
      const local = optimistic({
        clientId,
        conversationId,
        meId: user.id,
        direction: 'out',
        body: a.body || null,
        replyTo: a.replyTo,
        file: a.file,
        previewUrl: a.file && a.file.type.startsWith('image/') ? URL.createObjectURL(a.file) : undefined,
        note: a.note,
      });
      if (reuseFileId) uploaded.current.set(local.id, reuseFileId);
      if (hasNewerRef.current) void jumpToLatest();
      setMsgs((ms) => mergeMessages(ms, [local]));
      void deliver(local);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [conversationId, user.id, deliver, jumpToLatest],
  );

  const retry = useCallback(
    (m: Msg) => {
      if (isLocal(m)) {
        void deliver(m);
        return;
      }
      // Stored as failed (WhatsApp refused it): the same client id would return the same
      // failed message, so it goes again as a new one.
      setRetried((s) => new Set(s).add(m.id));
      send({ body: m.body ?? '', replyTo: m.reply_to_id ?? undefined, note: false }, m.media?.file_id);
    },
    [deliver, send],
  );

  const discard = useCallback((m: Msg) => {
    if (m.local?.previewUrl) URL.revokeObjectURL(m.local.previewUrl);
    uploaded.current.delete(m.id);
    setMsgs((ms) => removeMessage(ms, m.id));
  }, []);

  const react = useCallback(
    async (m: Msg, emoji: string) => {
      const before = m;
      setMsgs((ms) => patchMessage(ms, m.id, (x) => withReaction(x, user.id, emoji)));
      try {
        const dto = await unwrap(
          api.POST('/api/v1/conversations/{id}/messages/{message_id}/reactions', {
            params: { path: { id: conversationId, message_id: m.id } },
            body: { emoji },
          }),
        );
        setMsgs((ms) => mergeMessages(ms, [dto]));
      } catch (e) {
        setMsgs((ms) => patchMessage(ms, m.id, (x) => ({ ...x, reactions: before.reactions })));
        toast(problemMessage(e), 'error');
      }
    },
    [conversationId, user.id],
  );

  const edit = useCallback(
    async (m: Msg, body: string): Promise<boolean> => {
      try {
        const dto = await unwrap(
          api.PATCH('/api/v1/conversations/{id}/messages/{message_id}', { params: { path: { id: conversationId, message_id: m.id } }, body: { body } }),
        );
        setMsgs((ms) => mergeMessages(ms, [dto]));
        return true;
      } catch (e) {
        toast(problemMessage(e), 'error');
        return false;
      }
    },
    [conversationId],
  );

  const remove = useCallback(
    async (m: Msg) => {
      try {
        const { response, error: err } = await api.DELETE('/api/v1/conversations/{id}/messages/{message_id}', {
          params: { path: { id: conversationId, message_id: m.id } },
        });
        if (!response.ok) throw await ApiError.fromResponse(response, err);
        setMsgs((ms) => patchMessage(ms, m.id, (x) => ({ ...x, body: null, media: null, deleted_at: new Date().toISOString() })));
      } catch (e) {
        toast(problemMessage(e), 'error');
      }
    },
    [conversationId],
  );

  /** Tell the server (and so the other side) that we have read up to `upTo`. */
  const markRead = useCallback(
    (upTo: string) => {
      realtime.send({ type: 'read', conversation_id: conversationId, up_to: upTo });
      setConv((c) => (c ? { ...c, unread_count: 0 } : c));
    },
    [conversationId],
  );

  return {
    conv,
    setConv,
    msgs,
    error,
    loading,
    hasOlder,
    hasNewer,
    loadingOlder,
    readUpTo,
    typing,
    online,
    initialUnread,
    incoming,
    prepended,
    retried,
    loadOlder,
    loadNewer,
    jumpToLatest,
    send,
    retry,
    discard,
    react,
    edit,
    remove,
    markRead,
    reload: () => void load('initial'),
  };
}
