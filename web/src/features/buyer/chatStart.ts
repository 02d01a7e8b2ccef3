// "Message the agent": continue the buyer's in-app conversation about a listing if there is
// one, else start it (the API's POST is idempotent too, but asking first keeps the button's
// label honest: "Continue the conversation").
import { api, unwrap, type Schemas } from '../../api/client';

export interface ConversationQuery {
  channel?: 'in_app' | 'whatsapp';
  status?: 'open' | 'archived' | 'closed';
  property_id?: string;
  limit?: number;
  cursor?: string;
}

export async function listConversations(query: ConversationQuery): Promise<Schemas['ConversationPage']> {
  return unwrap(api.GET('/api/v1/conversations', { params: { query } }));
}

export async function existingChat(propertyId: string): Promise<string | null> {
  const page = await listConversations({ property_id: propertyId, channel: 'in_app', limit: 1 });
  const open = page.items[0];
  if (open) return open.id;
  // A conversation the agent closed is still the one to continue.
  const closed = await listConversations({ property_id: propertyId, channel: 'in_app', status: 'closed', limit: 1 });
  return closed.items[0]?.id ?? null;
}

export async function openChatAbout(propertyId: string): Promise<string> {
  const found = await existingChat(propertyId);
  if (found) return found;
  const view = await unwrap(api.POST('/api/v1/conversations', { body: { property_id: propertyId } }));
  return view.id;
}
