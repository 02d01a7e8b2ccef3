// Placeholder: replaced by the feature's author (staff: create, edit, retire listings, photos).
import type { User } from '../../session/session';

export function ListingsManager({ user }: { user: User }) {
  return <p>{user.display_name}</p>;
}
