// Placeholder: replaced by the feature's author.
import type { User } from '../../session/session';

export function BuyerApp({ user }: { user: User }) {
  return <p>{user.display_name}</p>;
}
