import { describe, expect, it } from 'vitest';
import { shouldAlert } from './notify';

const data = (over: Record<string, unknown>) => ({
  conversation_id: 'c1',
  message: { id: 'm1', kind: 'text', body: 'Hola', direction: 'in', author_user_id: null, ...over },
});

describe('shouldAlert', () => {
  it('alerts only for the other side’s messages while the tab is hidden', () => {
    expect(shouldAlert(data({}), 'me', true)).toBe(true);
    expect(shouldAlert(data({}), 'me', false)).toBe(false);
    expect(shouldAlert(data({ direction: 'out', author_user_id: 'me' }), 'me', true)).toBe(false);
    // In the app, the buyer's messages carry their user id.
    expect(shouldAlert(data({ direction: 'out', author_user_id: 'buyer' }), 'me', true)).toBe(true);
    // Messages the agent typed on the phone itself.
    expect(shouldAlert(data({ direction: 'out' }), 'me', true)).toBe(false);
  });

  it('never alerts for notes or system lines', () => {
    expect(shouldAlert(data({ kind: 'note', author_user_id: 'colleague' }), 'me', true)).toBe(false);
    expect(shouldAlert(data({ kind: 'system' }), 'me', true)).toBe(false);
  });
});
