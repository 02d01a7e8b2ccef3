// Placeholder: replaced by the feature's author (one conversation: header, messages, composer).
import type { ReactNode } from 'react';
import type { User } from '../../session/session';

export interface ThreadProps {
  conversationId: string;
  user: User;
  /** Extra buttons for the header (the buyer's block / report). */
  headerActions?: ReactNode;
  /** Phones: back to the list. */
  onBack?: () => void;
  /** Open scrolled to this message (search results). */
  focusMessageId?: string | undefined;
}

export function Thread({ conversationId }: ThreadProps) {
  return <p>{conversationId}</p>;
}
