// Which of a thread's loaded messages are rendered. A thread may hold thousands (endless
// scroll keeps every page it loaded); the DOM holds at most WINDOW of them, a run of
// consecutive messages that moves by STEP when the reader nears its top or bottom, the view
// kept in place by the thread (it anchors on a message on screen). Bubbles have any height,
// so this is a window over messages, not over pixels. Pure functions; Thread.tsx uses them.
import type { Msg, Row } from './model';

export const WINDOW = 150;
export const STEP = 50;

/**
 * The rendered run, by its first and last message, or `null`: the newest WINDOW messages,
 * following the conversation as messages arrive.
 */
export type Span = { first: string; last: string } | null;

/** Indexes into the loaded messages, `end` exclusive. */
export interface Bounds {
  start: number;
  end: number;
}

export function tailBounds(count: number): Bounds {
  return { start: Math.max(0, count - WINDOW), end: count };
}

/** Where a span lies in the list now; a span whose ends left the list falls back to the newest. */
export function spanBounds(count: number, span: Span, indexOf: (id: string) => number | undefined): Bounds {
  if (!span) return tailBounds(count);
  const s = indexOf(span.first);
  const e = indexOf(span.last);
  if (s === undefined || e === undefined || e < s) return tailBounds(count);
  return { start: s, end: Math.min(count, e + 1, s + WINDOW) };
}

/** The span of [start, end): `null` when it reaches the newest message. */
export function spanOf(msgs: readonly Msg[], start: number, end: number): Span {
  const first = msgs[start];
  const last = msgs[end - 1];
  if (end >= msgs.length || !first || !last) return null;
  return { first: first.id, last: last.id };
}

/** STEP older messages on top, as many of the newest dropped when over WINDOW. */
export function spanUp(msgs: readonly Msg[], b: Bounds): Span {
  const start = Math.max(0, b.start - STEP);
  return spanOf(msgs, start, Math.min(b.end, start + WINDOW));
}

/** STEP newer messages below, as many of the oldest dropped when over WINDOW. */
export function spanDown(msgs: readonly Msg[], b: Bounds): Span {
  const end = Math.min(msgs.length, b.end + STEP);
  return spanOf(msgs, Math.max(b.start, end - WINDOW), end);
}

/** A window with message `index` in its middle (a search result, a quoted message). */
export function spanAround(msgs: readonly Msg[], index: number): Span {
  const end = Math.min(msgs.length, Math.max(0, index - WINDOW / 2) + WINDOW);
  return spanOf(msgs, Math.max(0, end - WINDOW), end);
}

/**
 * The rows of messages [start, end) out of the whole thread's rows, with the separators
 * (day, unread line) just above the first: exactly what rendering every row would show there.
 */
export function rowsBetween(rows: readonly Row[], msgs: readonly Msg[], b: Bounds): Row[] {
  const first = msgs[b.start]?.id;
  const last = msgs[b.end - 1]?.id;
  if (first === undefined || last === undefined) return [];
  let i = rows.findIndex((r) => r.type === 'msg' && r.key === first);
  const j = rows.findIndex((r) => r.type === 'msg' && r.key === last);
  if (i < 0 || j < i) return [];
  while (i > 0 && rows[i - 1]?.type !== 'msg') i--;
  return rows.slice(i, j + 1);
}
