import { describe, expect, it } from 'vitest';
import { threadRows, type Msg } from './model';
import { rowsBetween, spanAround, spanBounds, spanDown, spanUp, STEP, tailBounds, WINDOW } from './threadWindow';

const msgs = Array.from({ length: 1000 }, (_, i) => ({ id: `m${i}`, sent_at: new Date(Date.UTC(2026, 11, 1 + Math.floor(i / 100), 10, i % 60)).toISOString(), direction: i % 3 ? 'in' : 'out', kind: 'text' }) as Msg);
const index = new Map(msgs.map((m, i) => [m.id, i]));
const at = (id: string) => index.get(id);

describe('the rendered window of a thread', () => {
  it('follows the newest messages, at most WINDOW of them', () => {
    expect(spanBounds(1000, null, at)).toEqual({ start: 1000 - WINDOW, end: 1000 });
    expect(tailBounds(20)).toEqual({ start: 0, end: 20 });
  });

  it('moves up and down by STEP, never over WINDOW, and follows again at the newest', () => {
    let b = tailBounds(1000);
    const up = spanUp(msgs, b);
    b = spanBounds(1000, up, at);
    expect(b).toEqual({ start: 1000 - WINDOW - STEP, end: 1000 - STEP });
    for (let i = 0; i < 30; i++) b = spanBounds(1000, spanUp(msgs, b), at);
    expect(b).toEqual({ start: 0, end: WINDOW });
    const down = spanDown(msgs, b);
    expect(spanBounds(1000, down, at)).toEqual({ start: STEP, end: WINDOW + STEP });
    for (let i = 0; i < 30; i++) b = spanBounds(1000, spanDown(msgs, b), at);
    expect(b).toEqual(tailBounds(1000));
    expect(spanDown(msgs, b)).toBeNull();
  });

  it('stays on the same messages when older ones are loaded above', () => {
    const span = spanAround(msgs, 500);
    const b = spanBounds(1000, span, at);
    expect(b.start).toBeLessThanOrEqual(500);
    expect(b.end).toBeGreaterThan(500);
    const older = Array.from({ length: 50 }, (_, i) => ({ ...msgs[0], id: `o${i}` }) as Msg);
    const more = [...older, ...msgs];
    const moreIndex = new Map(more.map((m, i) => [m.id, i]));
    expect(spanBounds(more.length, span, (id) => moreIndex.get(id))).toEqual({ start: b.start + 50, end: b.end + 50 });
    // a span whose messages are gone (the list was replaced) follows the newest again
    expect(spanBounds(10, span, () => undefined)).toEqual(tailBounds(10));
  });

  it('cuts the rows of the window with the separators above its first message', () => {
    const rows = threadRows(msgs);
    const b = { start: 300, end: 310 };
    const cut = rowsBetween(rows, msgs, b);
    expect(cut[0]).toMatchObject({ type: 'day' });
    expect(cut.filter((r) => r.type === 'msg').map((r) => r.key)).toEqual(msgs.slice(300, 310).map((m) => m.id));
    expect(rowsBetween(rows, msgs, { start: 301, end: 302 }).map((r) => r.type)).toEqual(['msg']);
  });
});
