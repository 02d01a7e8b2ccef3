// Placeholder: replaced by the feature's author (agents, invites, deactivate/reactivate).
import type { User } from '../../session/session';

export function AgencyAdmin({ user }: { user: User }) {
  return <p>{user.display_name}</p>;
}
