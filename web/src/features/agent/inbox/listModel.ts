// The inbox list's data, as pure functions: merging cursor pages, applying live events
// (a new message moves its conversation to the top and counts as unread unless it is ours
// or the thread is on screen; a status change may move it out of the current filter), and
// the filters themselves.
import type { Schemas } from '../../../api/client';

export type ConversationView = Schemas['ConversationView'];
export type ConversationDto = Schemas['ConversationDto'];
export type MessageDto = Schemas['MessageDto'];

export interface Filters {
  unread: boolean;
  channel: '' | 'whatsapp' | 'in_app';
  /** '' = open and archived (the API's default). */
  status: '' | 'open' | 'archived' | 'closed';
  propertyId: string;
  /** One agent's conversations ('' = everyone's): the agency admin's filter. */
  agentId: string;
}

export const NO_FILTERS: Filters = { unread: false, channel: '', status: '', propertyId: '', agentId: '' };

export function activityAt(c: ConversationDto): number {
  return Date.parse(c.last_message_at ?? c.created_at);
}

/** Newest activity first, ties by id descending (as the API orders pages). */
export function compareConversations(a: ConversationDto, b: ConversationDto): number {
  const d = activityAt(b) - activityAt(a);
  if (d !== 0) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Does a conversation belong in the list under these filters? */
export function matchesFilters(c: ConversationView, f: Filters): boolean {
  if (f.channel && c.channel !== f.channel) return false;
  if (f.status ? c.status !== f.status : c.status === 'closed') return false;
  if (f.propertyId && c.property_id !== f.propertyId) return false;
  if (f.agentId && c.agent_id !== f.agentId) return false;
  if (f.unread && c.unread_count === 0) return false;
  return true;
}

/** Add a page (or single conversations) to the list: known ones are replaced, order kept. */
export function mergeConversations(list: readonly ConversationView[], incoming: readonly ConversationView[]): ConversationView[] {
  if (incoming.length === 0) return list as ConversationView[];
  const byId = new Map(list.map((c) => [c.id, c]));
  for (const c of incoming) byId.set(c.id, c);
  return [...byId.values()].sort(compareConversations);
}

export function removeConversation(list: readonly ConversationView[], id: string): ConversationView[] {
  const out = list.filter((c) => c.id !== id);
  return out.length === list.length ? (list as ConversationView[]) : out;
}

export function patchConversation(
  list: readonly ConversationView[],
  id: string,
  patch: (c: ConversationView) => ConversationView,
): ConversationView[] {
  let hit = false;
  const out = list.map((c) => {
    if (c.id !== id) return c;
    hit = true;
    return patch(c);
  });
  return hit ? out.sort(compareConversations) : (list as ConversationView[]);
}

/** Words the server would use for a media message without a caption (`chat::inbox::preview`). */
function previewOf(m: MessageDto): string {
  if (m.deleted_at) return 'Message deleted';
  const b = m.body?.trim();
  if (b) return [...b].slice(0, 120).join('');
  switch (m.kind) {
    case 'image':
      return 'Photo';
    case 'video':
      return 'Video';
    case 'voice':
    case 'audio':
      return 'Audio';
    case 'location':
      return 'Location';
    case 'contact':
      return 'Contact card';
    default:
      return 'File';
  }
}

export type EventOutcome =
  | { kind: 'updated'; list: ConversationView[] }
  /** The conversation is not in the list: fetch it (it may be new, or newly matching). */
  | { kind: 'fetch'; id: string };

/**
 * `message.created`: the conversation moves to the top with the new preview; the unread
 * count grows for a message of the other side unless its thread is being read right now.
 */
export function applyMessageCreated(
  list: readonly ConversationView[],
  conversationId: string,
  m: MessageDto,
  meId: string,
  readingId: string | undefined,
): EventOutcome {
  const c = list.find((x) => x.id === conversationId);
  if (!c) return { kind: 'fetch', id: conversationId };
  const note = m.kind === 'note';
  const fromOther = !note && (m.author_user_id ? m.author_user_id !== meId : m.direction === 'in');
  const later = !c.last_message || Date.parse(m.sent_at) >= Date.parse(c.last_message.sent_at);
  const next: ConversationView = {
    ...c,
    status: c.status === 'archived' && fromOther ? 'open' : c.status,
    last_message_at: later ? m.sent_at : c.last_message_at ?? null,
    last_message: later
      ? { id: m.id, direction: m.direction, kind: m.kind, preview: previewOf(m), sent_at: m.sent_at }
      : c.last_message ?? null,
    unread_count: fromOther && readingId !== conversationId ? c.unread_count + 1 : c.unread_count,
  };
  return { kind: 'updated', list: patchConversation(list, conversationId, () => next) };
}

/** `message.updated` changes the preview when it is the last message (an edit, a delete). */
export function applyMessageUpdated(list: readonly ConversationView[], conversationId: string, m: MessageDto): ConversationView[] {
  return patchConversation(list, conversationId, (c) =>
    c.last_message?.id === m.id ? { ...c, last_message: { ...c.last_message, preview: previewOf(m) } } : c,
  );
}

/**
 * `conversation.updated` carries the shared part only (no unread count, no preview): merge
 * it into a known row, or ask for the whole view of an unknown one. A reassignment away
 * from an agent removes the row.
 */
export function applyConversationUpdated(
  list: readonly ConversationView[],
  data: { conversation?: ConversationDto; conversation_id?: string; reassigned_to?: string },
  me: { id: string; role: string },
): EventOutcome {
  if (data.reassigned_to && data.conversation_id) {
    if (me.role === 'agent' && data.reassigned_to !== me.id) {
      return { kind: 'updated', list: removeConversation(list, data.conversation_id) };
    }
    return { kind: 'fetch', id: data.conversation_id };
  }
  const dto = data.conversation;
  if (!dto) return { kind: 'updated', list: list as ConversationView[] };
  if (me.role === 'agent' && dto.agent_id !== me.id) {
    return { kind: 'updated', list: removeConversation(list, dto.id) };
  }
  const c = list.find((x) => x.id === dto.id);
  if (!c) return { kind: 'fetch', id: dto.id };
  return { kind: 'updated', list: patchConversation(list, dto.id, () => ({ ...c, ...dto })) };
}

/**
 * Our own `read` clears the unread count when it covers the last message; a "mark as
 * unread" (`unread: true`) or a partial read asks for the conversation's new count.
 */
export function applyRead(
  list: readonly ConversationView[],
  data: { conversation_id: string; user_id: string; up_to?: string | null; unread?: boolean },
  meId: string,
): EventOutcome {
  if (data.user_id !== meId) return { kind: 'updated', list: list as ConversationView[] };
  const c = list.find((x) => x.id === data.conversation_id);
  if (!c) return { kind: 'updated', list: list as ConversationView[] };
  if (data.unread) return { kind: 'fetch', id: c.id };
  if (c.last_message?.id === data.up_to || c.unread_count === 0) {
    return { kind: 'updated', list: patchConversation(list, c.id, (x) => ({ ...x, unread_count: 0 })) };
  }
  return { kind: 'fetch', id: c.id };
}

/** Drop rows that no longer match the filters — except the open one, which stays until left. */
export function keepMatching(list: readonly ConversationView[], f: Filters, openId?: string): ConversationView[] {
  const out = list.filter((c) => c.id === openId || matchesFilters(c, f));
  return out.length === list.length ? (list as ConversationView[]) : out;
}

/** The row a conversation shows with: who, what, when. */
export function displayName(c: ConversationView, fallback: string): string {
  return c.counterpart?.name || c.contact?.name || c.contact?.phone || fallback;
}
