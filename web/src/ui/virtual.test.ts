import { describe, expect, it } from 'vitest';
import { scrollToRow, windowRange } from './virtual';

describe('virtual window', () => {
  it('renders only the rows in view plus the overscan', () => {
    expect(windowRange(0, 760, 76, 1000, 5)).toEqual({ start: 0, end: 16, padTop: 0, padBottom: 984 * 76 });
    const r = windowRange(76 * 500, 760, 76, 1000, 5);
    expect(r.start).toBe(495);
    expect(r.end).toBe(516);
    expect(r.padTop + (r.end - r.start) * 76 + r.padBottom).toBe(1000 * 76);
  });

  it('clamps at the ends and handles empty lists', () => {
    expect(windowRange(0, 500, 76, 0)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
    const r = windowRange(1e9, 500, 76, 10, 2);
    expect(r.end).toBe(10);
    expect(r.start).toBe(7);
  });

  it('scrolls just enough to show a row', () => {
    expect(scrollToRow(0, 200, 400, 76)).toBe(0);
    expect(scrollToRow(10, 0, 400, 76)).toBe(11 * 76 - 400);
    expect(scrollToRow(3, 100, 400, 76)).toBe(100);
  });
});
