-- Stored message events by the message they carry: an edit or a deletion rewrites the text
-- in every stored copy (notifications, `?since=` replay), found through this index.
create index user_events_message_idx on user_events (user_id, (payload -> 'message' ->> 'id'))
    where kind in ('message.created', 'message.updated');
