-- The inbox: full-text search over messages (Spanish and English stemming together), and the
-- lookups unread counts and the cross-channel view need.

alter table messages add column search_vector tsvector
    generated always as (to_tsvector('spanish', coalesce(body, '')) || to_tsvector('english', coalesce(body, ''))) stored;
create index messages_search_idx on messages using gin (search_vector);

create index conversation_reads_user_idx on conversation_reads (user_id);
create index conversations_contact_idx on conversations (contact_id) where contact_id is not null;
