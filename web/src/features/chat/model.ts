// The thread's data, as pure functions: merging pages and live events into one ordered list,
// reconciling optimistic sends (matched by `client_id`) with what the server stored, tick
// order (a late answer never moves a message's ticks backwards), and day separators.
import type { Schemas } from '../../api/client';
import { sameDay } from '../../lib/format';

export type MessageDto = Schemas['MessageDto'];

/** What only this tab knows about a message it is sending. */
export interface LocalState {
  /** `sending` while the request is out; `failed` when it did not reach the server. */
  state: 'sending' | 'failed';
  error?: string | undefined;
  /** A preview of the attached file (blob: URL), while it uploads. */
  previewUrl?: string | undefined;
  file?: File | undefined;
  /** Notes go to `/notes` and have no client id. */
  note?: boolean | undefined;
}

export type Msg = MessageDto & { local?: LocalState | undefined };

export const LOCAL_PREFIX = 'local:';

export function isLocal(m: Msg): boolean {
  return m.id.startsWith(LOCAL_PREFIX);
}

/** Oldest first; ties by id (ids are v7 UUIDs, ordered by time too). */
export function compareMessages(a: Msg, b: Msg): number {
  // Messages still being sent stay at the bottom, in the order they were written.
  const la = isLocal(a);
  const lb = isLocal(b);
  if (la !== lb) return la ? 1 : -1;
  const ta = Date.parse(a.sent_at);
  const tb = Date.parse(b.sent_at);
  if (ta !== tb) return ta - tb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const RANK: Record<string, number> = { pending: 0, failed: 1, sent: 2, delivered: 3, read: 4 };

/** The rank of a delivery status: pending < failed < sent < delivered < read. */
export function statusRank(status: string): number {
  return RANK[status] ?? 0;
}

/**
 * The newer of two versions of the same message. Content (body, edits, reactions, deletion)
 * comes from `next`; the status never moves backwards (an `ack` event may overtake the
 * POST's own answer), except that a retried send may go from `failed` back to `pending`.
 */
export function newerVersion(prev: Msg, next: Msg): Msg {
  const keep =
    statusRank(prev.status) > statusRank(next.status) && !(prev.status === 'failed' && next.status === 'pending');
  const merged: Msg = keep ? { ...next, status: prev.status, failure_reason: prev.failure_reason } : { ...next };
  delete merged.local;
  return merged;
}

/**
 * Merge messages (a page, an event, a send's answer) into a list, oldest first. A stored
 * message replaces the optimistic one with its `client_id` (or, for notes, the local id
 * given in `replaces`), and an already known message is updated in place.
 */
export function mergeMessages(list: readonly Msg[], incoming: readonly Msg[], replaces?: string): Msg[] {
  if (incoming.length === 0) return list as Msg[];
  const byId = new Map<string, Msg>();
  for (const m of list) byId.set(m.id, m);
  for (const m of incoming) {
    if (replaces) byId.delete(replaces);
    if (m.client_id) {
      const localId = LOCAL_PREFIX + m.client_id;
      const local = byId.get(localId);
      if (local && !isLocal(m)) byId.delete(localId);
    }
    const prev = byId.get(m.id);
    byId.set(m.id, prev && !isLocal(m) ? newerVersion(prev, m) : m);
  }
  return [...byId.values()].sort(compareMessages);
}

/** Apply a partial change to one message (optimistic reactions, local failure). */
export function patchMessage(list: readonly Msg[], id: string, patch: (m: Msg) => Msg): Msg[] {
  let changed = false;
  const out = list.map((m) => {
    if (m.id !== id) return m;
    changed = true;
    return patch(m);
  });
  return changed ? out : (list as Msg[]);
}

export function removeMessage(list: readonly Msg[], id: string): Msg[] {
  const out = list.filter((m) => m.id !== id);
  return out.length === list.length ? (list as Msg[]) : out;
}

/** The ticks a message of ours shows. */
export type Tick = 'sending' | 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

/**
 * `readUpTo` is the time of the newest message the other side has read (in-app read
 * receipts), which turns earlier stored messages to `read`.
 */
export function tickOf(m: Msg, readUpTo?: number): Tick {
  if (m.local) return m.local.state === 'failed' ? 'failed' : 'sending';
  if (m.status === 'failed') return 'failed';
  if (readUpTo !== undefined && Date.parse(m.sent_at) <= readUpTo) return 'read';
  return (['pending', 'sent', 'delivered', 'read'] as const).find((s) => s === m.status) ?? 'sent';
}

export type Row =
  | { type: 'day'; key: string; at: string }
  | { type: 'unread'; key: string; n: number }
  | { type: 'msg'; key: string; msg: Msg; first: boolean };

/**
 * The rows of a thread: a day separator before the first message of each (local) day, an
 * "unread messages" line before the first unread one, and `first` on the message that
 * starts a run of the same side (for the bubble's tail).
 */
export function threadRows(list: readonly Msg[], firstUnreadId?: string, unreadCount = 0): Row[] {
  const rows: Row[] = [];
  let prevDay: Date | null = null;
  let prevSide: string | null = null;
  for (const m of list) {
    const d = new Date(m.sent_at);
    let newDay = false;
    if (!prevDay || !sameDay(prevDay, d)) {
      rows.push({ type: 'day', key: `day:${m.sent_at.slice(0, 10)}:${m.id}`, at: m.sent_at });
      prevDay = d;
      newDay = true;
    }
    let unreadLine = false;
    if (firstUnreadId && m.id === firstUnreadId) {
      rows.push({ type: 'unread', key: 'unread', n: unreadCount });
      unreadLine = true;
    }
    const side = m.kind === 'note' ? 'note' : m.kind === 'system' ? 'system' : m.direction;
    rows.push({ type: 'msg', key: m.id, msg: m, first: newDay || unreadLine || side !== prevSide });
    prevSide = side;
  }
  return rows;
}

/** Is this message from the other side (not ours, not a note)? */
export function fromOtherSide(m: Msg, meId: string): boolean {
  if (m.kind === 'note' || m.kind === 'system') return false;
  return m.author_user_id ? m.author_user_id !== meId : m.direction === 'in';
}

/** Is this ours (sent by the signed-in user)? Buyers' messages are `in`, with their user id. */
export function isMine(m: Msg, meId: string): boolean {
  return m.author_user_id === meId;
}

/** The newest message stored on the server (read receipts point at it). */
export function newestStored(list: readonly Msg[]): Msg | undefined {
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i] as Msg;
    if (!isLocal(m)) return m;
  }
  return undefined;
}

/** The first unread message of the other side, given how many the inbox counts. */
export function firstUnread(list: readonly Msg[], meId: string, unread: number): string | undefined {
  if (unread <= 0) return undefined;
  let left = unread;
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i] as Msg;
    if (!fromOtherSide(m, meId) || m.deleted_at) continue;
    left -= 1;
    if (left === 0) return m.id;
  }
  return undefined;
}

/** Reactions grouped by emoji, with whether one of them is the caller's. */
export function groupReactions(m: Msg, meId: string): { emoji: string; count: number; mine: boolean }[] {
  const out: { emoji: string; count: number; mine: boolean }[] = [];
  for (const r of m.reactions) {
    if (!r.emoji) continue;
    let g = out.find((x) => x.emoji === r.emoji);
    if (!g) out.push((g = { emoji: r.emoji, count: 0, mine: false }));
    g.count += 1;
    if (r.author === `user:${meId}`) g.mine = true;
  }
  return out;
}

/** The caller's reaction set to `emoji` ('' removes it), as the server would store it. */
export function withReaction(m: Msg, meId: string, emoji: string): Msg {
  const me = `user:${meId}`;
  const others = m.reactions.filter((r) => r.author !== me);
  return { ...m, reactions: emoji ? [...others, { author: me, emoji }] : others };
}

export interface LocationMeta {
  latitude: number;
  longitude: number;
  name?: string | undefined;
  address?: string | undefined;
}

/** A location message's coordinates (`meta.location`), when it has valid ones. */
export function locationOf(m: Msg): LocationMeta | undefined {
  const meta = m.meta as unknown as { location?: Record<string, unknown> } | null;
  const loc = meta?.location;
  if (!loc) return undefined;
  const lat = Number(loc.latitude);
  const lng = Number(loc.longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lng) || Math.abs(lat) > 90 || Math.abs(lng) > 180) return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v : undefined);
  return { latitude: lat, longitude: lng, name: str(loc.name), address: str(loc.address ?? loc.description) };
}

/** A link that opens the coordinates in a map (OpenStreetMap, no embed). */
export function mapUrl(l: LocationMeta): string {
  const lat = l.latitude.toFixed(6);
  const lng = l.longitude.toFixed(6);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lng}#map=17/${lat}/${lng}`;
}

export const MAX_CHARS = 5000;

/** Characters as the server counts them (Unicode scalar values), after trimming. */
export function charCount(s: string): number {
  return [...s.trim()].length;
}

export function newClientId(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** An optimistic message, shown at once while the send is in flight. */
export function optimistic(init: {
  clientId: string;
  conversationId: string;
  meId: string;
  direction: Msg['direction'];
  body: string | null;
  replyTo?: string | undefined;
  file?: File | undefined;
  previewUrl?: string | undefined;
  note?: boolean;
  now?: Date;
}): Msg {
  const at = (init.now ?? new Date()).toISOString();
  const f = init.file;
  const kind = init.note
    ? 'note'
    : !f
      ? 'text'
      : f.type.startsWith('image/')
        ? 'image'
        : f.type.startsWith('video/')
          ? 'video'
          : f.type.startsWith('audio/ogg')
            ? 'voice'
            : f.type.startsWith('audio/')
              ? 'audio'
              : 'file';
  return {
    id: LOCAL_PREFIX + init.clientId,
    conversation_id: init.conversationId,
    direction: init.direction,
    author_user_id: init.meId,
    kind,
    body: init.body,
    media: f
      ? { file_id: '', mimetype: f.type, size_bytes: f.size, file_name: f.name, url: '', thumbnail_url: null }
      : null,
    meta: {},
    reply_to_id: init.replyTo ?? null,
    status: 'pending',
    client_id: init.note ? null : init.clientId,
    sent_at: at,
    created_at: at,
    reactions: [],
    local: { state: 'sending', file: f, previewUrl: init.previewUrl, note: init.note },
  };
}
