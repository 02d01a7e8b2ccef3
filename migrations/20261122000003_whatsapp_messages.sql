-- WhatsApp messages both ways.
--
-- WAHA refers to a message by its serialized id (`true_<chat>_<ID>`) in most events but by the
-- raw `<ID>` alone in `message.edited` / `message.revoked`, so the raw id is kept and indexed.

alter table messages add column wa_key_id text;
create index messages_link_wa_key_idx on messages (link_id, wa_key_id) where wa_key_id is not null;

-- Per-link catch-up bookkeeping: the newest WhatsApp message time applied is `watermark_at`
-- (already on whatsapp_links); this records when a catch-up last ran and what it found.
alter table whatsapp_links
    add column last_catchup_at timestamptz,
    add column last_catchup_count integer;

-- Outbox work is claimed with SKIP LOCKED; one send per message.
create unique index outbox_message_kind_key on outbox (message_id, kind) where message_id is not null;

-- Events referring to a message not seen yet wait here (status 'deferred') keyed by the id
-- they refer to, and are re-applied when that message arrives.
alter table waha_events add column refers_to text;
create index waha_events_deferred_idx on waha_events (link_id, refers_to) where status = 'deferred';
