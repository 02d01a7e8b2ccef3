// Placeholder: replaced by the feature's author (the inbox: conversation list + thread).
import type { User } from '../../../session/session';

export function Inbox({ user, conversationId }: { user: User; conversationId?: string | undefined }) {
  return <p>{user.display_name} {conversationId}</p>;
}
