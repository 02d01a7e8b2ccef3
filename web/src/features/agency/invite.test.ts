import { describe, expect, it } from 'vitest';
import { inviteState, joinLink } from './invite';

describe('invites', () => {
  it('links to the agent sign-up with the code', () => {
    expect(joinLink('K7QM-3XHD-PW9R', 'https://puente.example')).toBe('https://puente.example/join?invite=K7QM-3XHD-PW9R');
  });
  it('knows used, expired and waiting invites', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(inviteState({ used_at: '2026-11-30T10:00:00Z', expires_at: '2026-11-01T00:00:00Z' }, now)).toBe('used');
    expect(inviteState({ used_at: null, expires_at: '2026-11-30T10:00:00Z' }, now)).toBe('expired');
    expect(inviteState({ used_at: null, expires_at: '2026-12-02T10:00:00Z' }, now)).toBe('pending');
  });
});
