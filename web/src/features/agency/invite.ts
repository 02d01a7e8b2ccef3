// Invite helpers: the sign-up link for a code, and an invite's state at a moment.
import type { Schemas } from '../../api/client';

/** The sign-up screen reads `?invite=` (and `/join` picks the agent sign-up). */
export function joinLink(code: string, origin: string): string {
  return `${origin}/join?invite=${encodeURIComponent(code)}`;
}

export type InviteState = 'used' | 'expired' | 'pending';

export function inviteState(i: Pick<Schemas['InviteDto'], 'used_at' | 'expires_at'>, now = Date.now()): InviteState {
  if (i.used_at) return 'used';
  return new Date(i.expires_at).getTime() <= now ? 'expired' : 'pending';
}
