-- Retention: the sweep finds files no message carries (this index) and settled webhook
-- events and finished outbox jobs by age.
create index messages_media_file_idx on messages (media_file_id) where media_file_id is not null;
create index waha_events_settled_idx on waha_events (received_at)
    where status in ('applied', 'skipped', 'failed', 'malformed');
create index outbox_done_idx on outbox (done_at) where done_at is not null;
